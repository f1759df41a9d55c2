"""Grafana: provisioning, dashboards generated from the config, and `ioc grafana push`."""
