import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# No test may reach a public host: anything that reads the production URL gets loopback.
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
for variable in ("QWEN_API_KEY", "DASHSCOPE_API_KEY"):
    os.environ.pop(variable, None)
