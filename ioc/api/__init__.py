"""The HTTP API, live feed and wall page (`ioc serve`)."""
