# Saved by smolkernel: the tool's code and what it uses.
from smolkernel import tool
import math
RATE = 2

def scaled(x: float) -> float:
    """Scale a number.

    Args:
        x: the number
    """
    return math.sqrt(x) * RATE

scaled = tool(scaled)
