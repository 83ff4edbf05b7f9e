"""Event sources: pollers (SQS, DynamoDB/Kinesis streams) and asynchronous deliveries (S3, SNS, EventBridge)."""
