"""The fault drill (`ioc drill`): a scripted hour of the simulated province at accelerated time.

Every fault kind the collectors can see is injected into its own target of the simulated
province while real components watch: the collector service, the alert engine as a real
`ioc alerts` process delivering to a loopback webhook receiver run by the drill, the weekly
report builder, the API app and the Grafana dashboard queries. The drill then checks the
evidence and prints a verdict table (`ioc.drill.verdict`):

- each fault gave failed probes of the right reason, raised the rule's alert for its target
  within the detection allowance, and the alert resolved after the fault ended;
- no alert fired that the script did not cause;
- the receiver saw every idempotency key once, one firing and one resolved per alert;
- every collected row was stored (count in from the collector's tap = rows in the database);
- the weekly report lists every incident with the alert's duration;
- availability per system (and 766.2.1 from the synced dossiers) is the same through SQL
  `ioc_kpi`, the API, the report and the Grafana panel query.

Entry point for tests and the CLI: `run_drill(database_url, DrillOptions(...), workdir)` returns
the verdicts. The script and the fault kinds left out (with the reason) are `ioc.drill.script`.
"""

from ioc.drill.drill import run_drill
from ioc.drill.run import DrillOptions, DrillRefused
from ioc.drill.script import NOT_DRILLED, Step, drill_script
from ioc.drill.verdict import Verdict, all_pass, format_table

__all__ = ["NOT_DRILLED", "DrillOptions", "DrillRefused", "Step", "Verdict", "all_pass",
           "drill_script", "format_table", "run_drill"]
