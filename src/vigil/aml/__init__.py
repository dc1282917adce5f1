"""AML and compliance: typology detectors, sanctions screening, cases and regulator reports."""
