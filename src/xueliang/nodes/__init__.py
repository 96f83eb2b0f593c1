"""Platform nodes: the county, township and village platform instances and their parent links."""
