"""Alerts where operators already look: DingTalk, WeCom and Feishu group robots and plain webhooks,
told about state changes (migrate.alerts). Pure pieces (signing, messages, when to send) and one
sender; orchestration decides what an event says and when it is sent."""
