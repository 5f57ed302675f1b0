"""The seeded 2023 rules against realistic applicants, through the same service the site uses."""

import datetime

import pytest
from django.utils import timezone

from eligibility.models import Screening
from eligibility.selectors import Screener
from eligibility.services import ScreeningError, record_screening

R, F, W = "refugee", "family-reunification", "temporary-work"


def years_ago(years: int, days: int = 0) -> str:
    today = timezone.localdate()
    try:
        anniversary = today.replace(year=today.year - years)
    except ValueError:  # 29 February: that birthday is counted on 1 March
        anniversary = datetime.date(today.year - years, 3, 1)
    return str(anniversary - datetime.timedelta(days=days))


def applicant(screener: Screener, **given: str) -> dict[str, str]:
    """Complete answers: what is given, and "no" or a plain default for every other question asked."""
    defaults = {
        "date_of_birth": "1990-05-17",
        "legal_status": "none",
        "fear_of_persecution": "no",
        "us_relative": "no",
        "i130_filed": "no",
        "i130_approved": "no",
        "job_offer": "no",
        "arrival_date": "2021-01-15",
    }
    answers = dict(given)
    today = timezone.localdate()
    while (question := screener.next_question(answers, today)) is not None and not screener.ruled_out(answers, today):
        answers[question.key] = defaults[question.key]
    return answers


CASES = [
    (
        "Venezuelan in Colombia since 2022, fears persecution",
        {"current_country": "CO", "nationality": "VE", "arrival_date": "2022-03-01", "fear_of_persecution": "yes"},
        {R},
    ),
    (
        "Venezuelan in Colombia since before 11 June 2023, no claim",
        {"current_country": "CO", "nationality": "VE", "arrival_date": "2023-06-10"},
        set(),
    ),
    (
        "Venezuelan who reached Colombia on 11 June 2023",
        {"current_country": "CO", "nationality": "VE", "arrival_date": "2023-06-11", "fear_of_persecution": "yes"},
        {R},
    ),
    (
        "Venezuelan who reached Colombia after the cut-off",
        {"current_country": "CO", "nationality": "VE", "arrival_date": "2023-07-01", "fear_of_persecution": "yes"},
        set(),
    ),
    (
        "Colombian in Colombia",
        {"current_country": "CO", "nationality": "CO", "fear_of_persecution": "yes", "job_offer": "agricultural"},
        set(),
    ),
    (
        "Cuban in Colombia with an approved I-130 and fear",
        {
            "current_country": "CO",
            "nationality": "CU",
            "arrival_date": "2020-02-02",
            "fear_of_persecution": "yes",
            "us_relative": "citizen",
            "i130_filed": "yes",
            "i130_approved": "yes",
        },
        {R, F},
    ),
    (
        "Haitian in Colombia whose I-130 is not approved",
        {
            "current_country": "CO",
            "nationality": "HT",
            "arrival_date": "2020-02-02",
            "us_relative": "citizen",
            "i130_filed": "yes",
            "i130_approved": "no",
        },
        set(),
    ),
    (
        "Nicaraguan in Costa Rica, not a registered asylum seeker",
        {
            "current_country": "CR",
            "nationality": "NI",
            "arrival_date": "2021-04-04",
            "legal_status": "none",
            "fear_of_persecution": "yes",
        },
        set(),
    ),
    (
        "Nicaraguan asylum seeker in Costa Rica who fears persecution",
        {
            "current_country": "CR",
            "nationality": "NI",
            "arrival_date": "2021-04-04",
            "legal_status": "asylum_seeker",
            "fear_of_persecution": "yes",
        },
        {R},
    ),
    (
        "Nicaraguan asylum seeker in Costa Rica with a farm job offer",
        {
            "current_country": "CR",
            "nationality": "NI",
            "arrival_date": "2019-04-04",
            "legal_status": "asylum_seeker",
            "job_offer": "agricultural",
        },
        {W},
    ),
    (
        "Venezuelan asylum seeker who reached Costa Rica on 12 June 2023",
        {
            "current_country": "CR",
            "nationality": "VE",
            "arrival_date": "2023-06-12",
            "legal_status": "asylum_seeker",
            "fear_of_persecution": "yes",
        },
        {R},
    ),
    (
        "Venezuelan asylum seeker who reached Costa Rica on 13 June 2023",
        {
            "current_country": "CR",
            "nationality": "VE",
            "arrival_date": "2023-06-13",
            "legal_status": "asylum_seeker",
            "fear_of_persecution": "yes",
        },
        set(),
    ),
    (
        "Nicaraguan asylum seeker in Costa Rica, relative's I-130 pending",
        {
            "current_country": "CR",
            "nationality": "NI",
            "arrival_date": "2023-01-01",
            "legal_status": "asylum_seeker",
            "us_relative": "permanent_resident",
            "i130_filed": "yes",
            "i130_approved": "no",
        },
        set(),
    ),
    (
        "Guatemalan with an approved I-130 from a US citizen parent",
        {
            "current_country": "GT",
            "nationality": "GT",
            "us_relative": "citizen",
            "i130_filed": "yes",
            "i130_approved": "yes",
        },
        {F},
    ),
    (
        "Guatemalan with an agricultural job offer",
        {"current_country": "GT", "nationality": "GT", "job_offer": "agricultural"},
        {W},
    ),
    (
        "Guatemalan who fits all three pathways",
        {
            "current_country": "GT",
            "nationality": "GT",
            "fear_of_persecution": "yes",
            "us_relative": "permanent_resident",
            "i130_filed": "yes",
            "i130_approved": "yes",
            "job_offer": "non_agricultural",
        },
        {R, F, W},
    ),
    (
        "Guatemalan aged 17",
        {
            "current_country": "GT",
            "nationality": "GT",
            "date_of_birth": years_ago(18, days=-1),
            "fear_of_persecution": "yes",
        },
        set(),
    ),
    (
        "Guatemalan who turns 18 today",
        {"current_country": "GT", "nationality": "GT", "date_of_birth": years_ago(18), "fear_of_persecution": "yes"},
        {R},
    ),
    (
        "Honduran in Guatemala (removed in August 2023)",
        {"current_country": "GT", "nationality": "HN", "arrival_date": "2022-01-01", "fear_of_persecution": "yes"},
        set(),
    ),
    (
        "Salvadoran in Guatemala",
        {"current_country": "GT", "nationality": "SV", "arrival_date": "2022-01-01", "job_offer": "agricultural"},
        set(),
    ),
    (
        "Venezuelan in Ecuador in the regularization process, fears persecution",
        {
            "current_country": "EC",
            "nationality": "VE",
            "arrival_date": "2023-01-01",
            "legal_status": "regularization",
            "fear_of_persecution": "yes",
            "job_offer": "non_agricultural",
        },
        {R},
    ),
    (
        "Cuban refugee who reached Ecuador on 18 October 2023 with an approved I-130",
        {
            "current_country": "EC",
            "nationality": "CU",
            "arrival_date": "2023-10-18",
            "legal_status": "refugee",
            "us_relative": "permanent_resident",
            "i130_filed": "yes",
            "i130_approved": "yes",
        },
        {F},
    ),
    (
        "Cuban refugee who reached Ecuador on 19 October 2023",
        {
            "current_country": "EC",
            "nationality": "CU",
            "arrival_date": "2023-10-19",
            "legal_status": "refugee",
            "fear_of_persecution": "yes",
        },
        set(),
    ),
    (
        "Colombian refugee in Ecuador who fears persecution",
        {
            "current_country": "EC",
            "nationality": "CO",
            "arrival_date": "2019-09-09",
            "legal_status": "refugee",
            "fear_of_persecution": "yes",
            "job_offer": "agricultural",
        },
        {R, W},
    ),
    (
        "Haitian in Ecuador with a farm job offer (not on the H-2 list)",
        {
            "current_country": "EC",
            "nationality": "HT",
            "arrival_date": "2023-05-01",
            "legal_status": "regularization",
            "job_offer": "agricultural",
        },
        set(),
    ),
    (
        "Venezuelan in Ecuador with no status",
        {
            "current_country": "EC",
            "nationality": "VE",
            "arrival_date": "2023-05-01",
            "legal_status": "none",
            "fear_of_persecution": "yes",
        },
        set(),
    ),
    ("Ecuadorian in Ecuador", {"current_country": "EC", "nationality": "EC", "fear_of_persecution": "yes"}, set()),
    (
        "Venezuelan in Peru (no office)",
        {"current_country": "PE", "nationality": "VE", "arrival_date": "2020-01-01", "fear_of_persecution": "yes"},
        set(),
    ),
]


@pytest.mark.parametrize(("who", "given", "eligible"), CASES, ids=[case[0] for case in CASES])
def test_seeded_rules(screener: Screener, who: str, given: dict, eligible: set[str]) -> None:
    screening = record_screening(screener=screener, answers=applicant(screener, **given), language="es")
    assert set(screening.outcomes) == {R, F, W}, "inactive pathways are not evaluated"
    assert set(screening.eligible_pathways) == eligible
    for outcome in screening.outcomes.values():
        assert outcome["reasons"], f"{who}: every outcome explains itself"


def test_under_18_is_told_why(screener: Screener) -> None:
    answers = applicant(screener, current_country="GT", nationality="GT", date_of_birth=years_ago(16))
    screening = record_screening(screener=screener, answers=answers, language="en")
    for outcome in screening.outcomes.values():
        (reason,) = outcome["reasons"]
        assert reason["en"] == "You must be 18 or older. Family members under 18 are listed on an adult's appointment."
        assert reason["es"] == (
            "Debe tener 18 años o más. Los familiares menores de 18 años se incluyen en la cita de un adulto."
        )
        assert "18" in reason["ht"]


def test_colombian_in_colombia_is_told_the_nationality_is_not_served(screener: Screener) -> None:
    screening = record_screening(
        screener=screener, answers=applicant(screener, current_country="CO", nationality="CO"), language="en"
    )
    reasons = [reason["en"] for reason in screening.outcomes[R]["reasons"]]
    assert reasons == ["The office in Colombia serves only people from Cuba, Haiti or Venezuela."]
    spanish = [reason["es"] for reason in screening.outcomes[R]["reasons"]]
    assert spanish == ["La oficina de Colombia solo atiende a personas de Cuba, Haití o Venezuela."]


def test_screening_keeps_the_age_not_the_birth_date(screener: Screener) -> None:
    answers = applicant(screener, current_country="GT", nationality="GT", date_of_birth="1990-05-17")
    screening = record_screening(screener=screener, answers=answers, language="es")
    assert "date_of_birth" not in screening.answers
    assert screening.answers["age"] >= 36
    assert screening.host_country == "GT"


def test_incomplete_answers_are_not_recorded(screener: Screener) -> None:
    with pytest.raises(ScreeningError):
        record_screening(screener=screener, answers={"current_country": "GT"}, language="es")


def reasons(screening: Screening, code: str, language: str = "en") -> list[str]:
    return [reason[language] for reason in screening.outcomes[code]["reasons"]]


def test_a_late_arrival_is_told_the_date_the_country_accepts(screener: Screener) -> None:
    answers = applicant(screener, current_country="CO", nationality="VE", arrival_date="2023-07-01")
    screening = record_screening(screener=screener, answers=answers, language="en")
    assert reasons(screening, R) == [
        "The office in Colombia serves only people who arrived there on or before June 11, 2023. "
        "You told us you arrived on July 1, 2023."
    ]
    assert reasons(screening, R, "es") == [
        "La oficina de Colombia solo atiende a personas que llegaron a más tardar el 11 de junio de 2023. "
        "Nos dijo que llegó el 1 de julio de 2023."
    ]


def test_a_missing_status_is_told_the_status_this_country_requires(screener: Screener) -> None:
    answers = applicant(screener, current_country="EC", nationality="VE", arrival_date="2023-01-01")
    screening = record_screening(screener=screener, answers=answers, language="en")
    assert reasons(screening, R) == [
        "In Ecuador, the program serves only registered asylum seekers, recognised refugees or people who applied "
        "to its regularization process."
    ]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"us_relative": "no"}, ["This pathway needs a relative who is a US citizen or permanent resident."]),
        (
            {"us_relative": "citizen", "i130_filed": "dont_know"},
            [
                "This pathway needs your relative to file a Form I-130 petition for you first. If you do not know "
                "whether they did, ask them."
            ],
        ),
        (
            {"us_relative": "citizen", "i130_filed": "yes", "i130_approved": "dont_know"},
            [
                "This pathway needs the I-130 petition to be approved. You can answer the questions again when "
                "your relative receives the approval notice (Form I-797)."
            ],
        ),
    ],
)
def test_family_reunification_names_only_what_was_asked(screener: Screener, given: dict, expected: list) -> None:
    answers = applicant(screener, current_country="GT", nationality="GT", **given)
    screening = record_screening(screener=screener, answers=answers, language="en")
    assert reasons(screening, F) == expected


@pytest.mark.parametrize(
    ("given", "stops"),
    [
        ({"current_country": "PE"}, True),
        ({"current_country": "CO", "nationality": "CO"}, True),
        ({"current_country": "GT", "nationality": "GT", "date_of_birth": years_ago(17)}, True),
        ({"current_country": "GT", "nationality": "GT", "date_of_birth": years_ago(18)}, False),
        (
            {"current_country": "CO", "nationality": "VE", "date_of_birth": "1990-01-01", "arrival_date": "2024-01-01"},
            True,
        ),
        ({"current_country": "CO", "nationality": "VE", "date_of_birth": "1990-01-01"}, False),
        (
            {
                "current_country": "EC",
                "nationality": "VE",
                "date_of_birth": "1990-01-01",
                "arrival_date": "2023-01-01",
                "legal_status": "none",
            },
            True,
        ),
        (
            {"current_country": "GT", "nationality": "GT", "date_of_birth": "1990-01-01", "fear_of_persecution": "no"},
            False,
        ),
    ],
)
def test_the_screener_stops_as_soon_as_no_pathway_can_fit(screener: Screener, given: dict, stops: bool) -> None:
    assert screener.ruled_out(given, timezone.localdate()) is stops
    if stops:
        screening = record_screening(screener=screener, answers=given, language="en")
        assert screening.eligible_pathways == []
        assert all(outcome["reasons"] for outcome in screening.outcomes.values())
