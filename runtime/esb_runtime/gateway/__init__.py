"""The public gateway: API Gateway-compatible routing, the Lambda Invoke API, client auth, traces."""
