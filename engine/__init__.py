"""The stage engine: one move for every kind of stack (refuse, plan, gate, back up, mark pending,
write, converge, verify, roll back, record, re-plan), the target supplying each step."""
