"""What an LLM call cost, in USD: the model's prices per million tokens of each kind (your `prices`
first, then genai-prices' offline database) times the usage the model reported."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

__all__ = ["PRICE_KINDS", "Prices", "price_source"]

# lclog's usage keys -> what genai-prices' Usage calls them
_USAGE = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "input_cache_read_tokens": "cache_read_tokens",
    "input_cache_creation_tokens": "cache_write_tokens",
    "input_audio_tokens": "input_audio_tokens",
    "output_audio_tokens": "output_audio_tokens",
}
# A price per million tokens of each kind (cache reads and writes are part of the input tokens)
PRICE_KINDS = ("input", "output", "cache_read", "cache_write")
# LangChain's provider names (`ls_provider`) -> genai-prices' provider ids
_PROVIDERS = {
    "openai": "openai",
    "azure": "azure",
    "azure_openai": "azure",
    "anthropic": "anthropic",
    "google_genai": "google",
    "google_vertexai": "google",
    "bedrock": "aws",
    "amazon_bedrock": "aws",
    "mistral": "mistral",
    "mistralai": "mistral",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x-ai",
    "cohere": "cohere",
    "perplexity": "perplexity",
}
_MAX_CACHED = 4096


def price_source() -> str:
    """Which price data a computed cost comes from: genai-prices' version (its data is bundled)."""
    try:
        from importlib.metadata import version

        return f"genai-prices {version('genai-prices')}"
    except Exception:
        return "genai-prices"


class Prices:
    """Prices per model, looked up once per (model, provider) and kept."""

    def __init__(self, overrides: Mapping[str, Any]) -> None:
        # model -> (rates per million tokens, or the model priced like it)
        self._overrides = {k: v for k, v in overrides.items()}
        self._rates: dict[tuple[str, str | None], tuple[dict[str, float] | None, str | None, Any]] = {}
        self._source = price_source()

    def cost(self, model: Any, provider: Any, usage: Any) -> dict[str, Any] | None:
        """{input, output, total, currency, source}, or None when the model or usage is unknown."""
        if not isinstance(model, str) or not isinstance(usage, dict):
            return None
        key = (model, provider if isinstance(provider, str) else None)
        found = self._rates.get(key)
        if found is None:
            found = self._lookup(*key)
            if len(self._rates) < _MAX_CACHED:
                self._rates[key] = found
        rates, source, model_price = found
        if rates is not None:
            return _priced(rates, usage, source or self._source)
        if model_price is not None:  # tiered or otherwise not flat: genai-prices computes it
            return _calculated(model_price, usage, self._source)
        return None

    def knows(self, model: str) -> bool:
        """Whether genai-prices' database prices `model` (by any provider)."""
        rates, _, price = self._lookup_database(model, None)
        return rates is not None or price is not None

    def _lookup(self, model: str, provider: str | None) -> tuple[dict[str, float] | None, str | None, Any]:
        own = self._overrides.get(model)
        if own is not None:
            same_as = getattr(own, "same_as", None)
            if same_as:
                return self._lookup_database(same_as, provider)
            return {k: float(getattr(own, k) or 0) for k in PRICE_KINDS} | _defaults(own), "config", None
        return self._lookup_database(model, provider)

    def _lookup_database(self, model: str, provider: str | None) -> tuple[dict[str, float] | None, None, Any]:
        try:
            from genai_prices import data_snapshot

            snapshot = data_snapshot.get_snapshot()
            provider_id = _PROVIDERS.get(provider.lower()) if provider else None
            _, info = snapshot.find_provider_model(model, None, provider_id, None)
            price = info.get_prices(datetime.now(timezone.utc))
        except Exception:  # not in the database (or genai-prices missing): unpriced
            return None, None, None
        rates = {
            "input": getattr(price, "input_mtok", None),
            "output": getattr(price, "output_mtok", None),
            "cache_read": getattr(price, "cache_read_mtok", None),
            "cache_write": getattr(price, "cache_write_mtok", None),
        }
        if all(v is None or isinstance(v, (int, float, Decimal)) for v in rates.values()):
            flat = {k: float(v) for k, v in rates.items() if v is not None}
            flat.setdefault("cache_read", flat.get("input", 0.0))
            flat.setdefault("cache_write", flat.get("input", 0.0))
            return flat, None, None
        return None, None, price


def _defaults(own: Any) -> dict[str, float]:
    """Config prices: cache reads and writes cost what input does unless said."""
    return {k: float(own.input) for k in ("cache_read", "cache_write") if getattr(own, k) is None}


def _priced(rates: dict[str, float], usage: dict[str, Any], source: str) -> dict[str, Any]:
    inp = int(usage.get("input_tokens") or 0)
    out = int(usage.get("output_tokens") or 0)
    read = int(usage.get("input_cache_read_tokens") or 0)
    write = int(usage.get("input_cache_creation_tokens") or 0)
    uncached = max(0, inp - read - write)
    input_cost = (
        uncached * rates.get("input", 0.0) + read * rates["cache_read"] + write * rates["cache_write"]
    ) / 1e6
    output_cost = out * rates.get("output", 0.0) / 1e6
    return _result(input_cost, output_cost, source)


def _calculated(model_price: Any, usage: dict[str, Any], source: str) -> dict[str, Any] | None:
    from genai_prices import Usage

    try:
        calc = model_price.calc_price(Usage(**{name: usage.get(key) for key, name in _USAGE.items()}))
    except Exception:
        return None
    return _result(float(calc["input_price"]), float(calc["output_price"]), source)


def _result(input_cost: float, output_cost: float, source: str) -> dict[str, Any]:
    return {
        "input": round(input_cost, 10),
        "output": round(output_cost, 10),
        "total": round(input_cost + output_cost, 10),
        "currency": "USD",
        "source": source,
    }
