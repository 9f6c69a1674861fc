"""The questionnaire: flow model, loading and validation, and the pure state machine."""
