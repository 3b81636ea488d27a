"""Code shared by the backend and the front server: the API's schemas and limits, the error codes
and the JSON error shape, and the gunicorn runner."""
