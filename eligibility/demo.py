"""Demo data for `make run` (core's load_demo_data, through the other apps' demo modules)."""

from eligibility.models import Pathway, ScreenerVersion, Screening


def eligible_screening(version: ScreenerVersion, pathways: list[Pathway], *, host_country: str = "") -> Screening:
    """An eligible result for the first pathway, as the screener records one."""
    outcomes = {
        p.code: {
            "eligible": p.code == pathways[0].code,
            "reasons": {"en": [], "es": []},
            "order": p.order,
            **{f: {lang: getattr(p, f"{f}_{lang}") for lang in ("en", "es")} for f in ("name", "description", "bring")},
        }
        for p in pathways
    }
    return Screening.objects.create(
        version=version, host_country=host_country, answers={}, outcomes=outcomes, language="es"
    )
