"""``/api/v1/rounds/{id}/runs/{run}/explanations``, rule prices and place values."""
