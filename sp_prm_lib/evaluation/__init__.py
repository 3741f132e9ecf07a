"""Evaluation (the paper's algorithms): agreement rates AR_RM-SC, AR_RM-HP, AR_SC-HP and the
reward gap (``agreement``), and the text metrics of the decoding tables (``text_metrics``)."""
