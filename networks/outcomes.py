"""What a conformance check says (``networks.verify.Check.outcome``): a module of its own, so the
reports can read a recorded outcome without importing the checks (which import the reports'
answer checker)."""

PASS, FAIL, NOT_MEASURABLE = "pass", "FAIL", "not measurable"
