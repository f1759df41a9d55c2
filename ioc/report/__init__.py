"""The weekly SLA report for leaders: built from the KPI layer, rendered, stored, e-mailed."""
