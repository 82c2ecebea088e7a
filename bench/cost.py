"""The cost of going to the API, from measured tokens (the API's own `usage` in the bench) and a
price table in config (``migrate.api.prices``), never guessed: with no price for the model, or no
usage measured, the section says so. Prices carry their ``as_of`` date, printed with them."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

from core.config import Price, Settings, Stage

MEASURED = "bench-cost.json"     # in the deploy directory: the last bench's token counts
RECENT_S = 30 * 86400            # older measurements are not projected from


@dataclass(frozen=True)
class Tokens:
    chats: int
    prompt: float        # mean per chat
    completion: float


def measured(samples) -> Tokens | None:
    counted = [s for s in samples if s.ok and s.prompt_tokens is not None and s.completion_tokens is not None]
    if not counted:
        return None
    return Tokens(len(counted), sum(s.prompt_tokens for s in counted) / len(counted),
                  sum(s.completion_tokens for s in counted) / len(counted))


def money(amount: float) -> str:
    """Enough digits to tell small amounts apart (a thousand short chats may cost cents)."""
    return f"{amount:.2f}" if amount >= 10 else f"{amount:.4f}"


def per_chat(tokens: Tokens, price: Price) -> float:
    return tokens.prompt / 1000 * price.input_per_1k + tokens.completion / 1000 * price.output_per_1k


def section(tokens: Tokens | None, model: str, price: Price | None, stages: dict[int, Stage],
            chats_per_day: int | None) -> list[str]:
    lines = ["## 4. Cost of the API share", ""]
    if tokens is None:
        return lines + ["No token counts were measured (run the bench with the API as a target): no cost is "
                        "estimated.", ""]
    lines.append(f"Measured over {tokens.chats} chats: {tokens.prompt:.1f} prompt and {tokens.completion:.1f} "
                 f"completion tokens per chat on average (the API's own `usage`).")
    if price is None:
        return lines + ["", f"No price for `{model}` in `migrate.api.prices`: no cost is estimated (add "
                            f"`{model}: {{input_per_1k, output_per_1k, currency, as_of}}` from the provider's "
                            "price page).", ""]
    one = per_chat(tokens, price)
    lines += ["", f"Price of `{model}`: {price.input_per_1k} {price.currency} per 1000 input tokens, "
                  f"{price.output_per_1k} per 1000 output tokens, **as of {price.as_of}** (from the config: check "
                  "today's price before planning a budget).", ""]
    head = "| stage | API share | per 1000 chats |" + (f" per month at {chats_per_day} chats/day |" if chats_per_day else "")
    lines += [head, "|---|---|---|" + ("---|" if chats_per_day else "")]
    for stage in stages.values():
        share = stage.api_share
        cost = one * 1000 * share
        row = f"| {stage.number} {stage.name} | {share:.0%} | {money(cost)} {price.currency} |"
        if chats_per_day:
            row += f" {money(one * share * chats_per_day * 30)} {price.currency} |"
        lines.append(row)
    return lines + [""]


def projected(settings: Settings, stage: Stage, now: float | None = None) -> str | None:
    """`invoke status`'s line: the stage's API cost per 1000 chats, from a recent bench's tokens
    and the config's price (None when either is missing: nothing is guessed)."""
    try:
        data = json.loads((settings.deploy_dir / MEASURED).read_text())
        tokens = Tokens(int(data["chats"]), float(data["prompt"]), float(data["completion"]))
        when, model = float(data["time"]), str(data["model"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    price = settings.api_prices.get(model)
    if price is None or (now or time.time()) - when > RECENT_S:
        return None
    share = stage.api_share
    day = time.strftime("%Y-%m-%d", time.localtime(when))
    return (f"projected API cost at stage {stage.number}: {money(per_chat(tokens, price) * 1000 * share)} "
            f"{price.currency} per 1000 chats ({share:.0%} to the API; tokens measured by `invoke bench` on {day}, "
            f"price of {model} as of {price.as_of})")
