-- partitions: days
-- description: Daily delay statistics per carrier and origin airport
SELECT
    carrier,
    origin,
    CAST($partition_key AS DATE) AS day,
    count(*) AS flights,
    count(*) FILTER (WHERE cancelled) AS cancelled,
    count(dep_delay) AS departed,
    count(arr_delay) AS arrived,
    avg(dep_delay) AS mean_dep_delay,
    avg(arr_delay) AS mean_arr_delay,
    quantile_cont(arr_delay, 0.9) AS p90_arr_delay,
    avg(CASE WHEN arr_delay > 15 THEN 1.0 ELSE 0.0 END) FILTER (WHERE arr_delay IS NOT NULL) AS late_share
FROM flights
GROUP BY carrier, origin
ORDER BY carrier, origin
