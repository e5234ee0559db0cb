"""ordersync: marketplace order sync into Postgres."""
