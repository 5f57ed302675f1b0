"""The first published screener, from the program as announced in 2023 (see shared/product.md).

Loaded by a data migration, so every new database starts with it. Administrators change it by
creating a new draft in the admin; this file is never edited to change live rules.
"""

from typing import Any


def text(en: str, es: str) -> dict[str, str]:
    return {"en": en, "es": es}


PROGRAM_COUNTRIES = ["GT", "CO", "CR", "EC"]

HOSTS = [
    # Guatemala served Guatemalans (Salvadorans, Hondurans and Nicaraguans were removed on
    # 10 August 2023); nationals need no presence date.
    {"country": "GT", "nationalities": ["GT"], "presence_cutoff": None, "statuses": []},
    {
        "country": "CR",
        "nationalities": ["NI", "VE"],
        "presence_cutoff": "2023-06-12",
        "statuses": ["asylum_seeker"],
    },
    {"country": "CO", "nationalities": ["CU", "HT", "VE"], "presence_cutoff": "2023-06-11", "statuses": []},
    {
        "country": "EC",
        "nationalities": ["CO", "CU", "HT", "NI", "VE"],
        "presence_cutoff": "2023-10-18",
        "statuses": ["asylum_seeker", "refugee", "regularization"],
    },
]

# Nationalities on the yearly list of countries eligible for H-2A and H-2B visas, limited to those
# the offices see. Check it against each year's Federal Register notice.
H2_NATIONALITIES = ["CO", "CR", "EC", "GT", "HN", "NI", "SV"]

QUESTIONS: list[dict[str, Any]] = [
    {
        "key": "current_country",
        "kind": "country",
        "label": text("Which country do you live in now?", "¿En qué país vive ahora?"),
        "hint": text(
            "The offices work in Guatemala, Colombia, Costa Rica and Ecuador.",
            "Las oficinas funcionan en Guatemala, Colombia, Costa Rica y Ecuador.",
        ),
    },
    {
        "key": "nationality",
        "kind": "country",
        "label": text("What is your nationality?", "¿Cuál es su nacionalidad?"),
        "hint": text(
            "If you have more than one, choose the one on the passport or document you will bring.",
            "Si tiene más de una, elija la del pasaporte o documento que traerá.",
        ),
    },
    {
        "key": "date_of_birth",
        "kind": "date",
        "label": text("What is your date of birth?", "¿Cuál es su fecha de nacimiento?"),
        "hint": text("For example, 27 3 1990", "Por ejemplo, 27 3 1990"),
    },
    {
        "key": "arrival_date",
        "kind": "date",
        "label": text(
            "When did you arrive in the country where you live now?", "¿Cuándo llegó al país donde vive ahora?"
        ),
        "hint": text(
            "If you do not know the exact day, give your best estimate. For example, 15 4 2022",
            "Si no sabe el día exacto, indique una fecha aproximada. Por ejemplo, 15 4 2022",
        ),
        "condition": {"not": {"same_answer": {"question": "current_country", "other": "nationality"}}},
    },
    {
        "key": "legal_status",
        "kind": "choice",
        "label": text(
            "What is your immigration status in the country where you live now?",
            "¿Cuál es su situación migratoria en el país donde vive ahora?",
        ),
        "choices": [
            {"value": "asylum_seeker", "en": "Registered asylum seeker", "es": "Solicitante de asilo registrado"},
            {"value": "refugee", "en": "Recognised refugee", "es": "Refugiado reconocido"},
            {
                "value": "regularization",
                "en": "I applied to the country's regularization process",
                "es": "Solicité el proceso de regularización del país",
            },
            {"value": "none", "en": "None of these", "es": "Ninguna de estas"},
        ],
        "condition": {
            "all": [
                {"in": {"question": "current_country", "values": ["CR", "EC"]}},
                {"not": {"same_answer": {"question": "current_country", "other": "nationality"}}},
            ]
        },
    },
    {
        "key": "fear_of_persecution",
        "kind": "yes_no",
        "label": text(
            "Have you been persecuted, or do you fear persecution, in your country of nationality?",
            "¿Ha sido perseguido o teme ser perseguido en su país de nacionalidad?",
        ),
        "hint": text(
            "Because of your race, religion, nationality, political opinion or membership of a particular "
            "social group.",
            "Por su raza, religión, nacionalidad, opinión política o pertenencia a un determinado grupo social.",
        ),
    },
    {
        "key": "us_relative",
        "kind": "choice",
        "label": text(
            "Do you have a close relative who is a US citizen or a US permanent resident?",
            "¿Tiene un familiar cercano que sea ciudadano o residente permanente de Estados Unidos?",
        ),
        "choices": [
            {"value": "citizen", "en": "Yes, a US citizen", "es": "Sí, un ciudadano estadounidense"},
            {
                "value": "permanent_resident",
                "en": "Yes, a permanent resident (green card)",
                "es": "Sí, un residente permanente (green card)",
            },
            {"value": "no", "en": "No", "es": "No"},
        ],
    },
    {
        "key": "i130_filed",
        "kind": "choice",
        "label": text(
            "Has that relative filed a Form I-130 petition for you?",
            "¿Ese familiar presentó una petición I-130 a su favor?",
        ),
        "hint": text(
            "The I-130 is the form a US citizen or permanent resident files for a relative. If you are not "
            "sure, ask your relative.",
            "La I-130 es el formulario que presenta un ciudadano o residente permanente de Estados Unidos para un "
            "familiar. Si no está seguro, pregúntele a su familiar.",
        ),
        "choices": [
            {"value": "yes", "en": "Yes", "es": "Sí"},
            {"value": "no", "en": "No", "es": "No"},
            {"value": "dont_know", "en": "I don't know", "es": "No sé"},
        ],
        "condition": {"in": {"question": "us_relative", "values": ["citizen", "permanent_resident"]}},
    },
    {
        "key": "i130_approved",
        "kind": "choice",
        "label": text("Has the I-130 petition been approved?", "¿La petición I-130 fue aprobada?"),
        "hint": text(
            "When it is approved, your relative receives an approval notice (Form I-797).",
            "Cuando se aprueba, su familiar recibe un aviso de aprobación (formulario I-797).",
        ),
        "choices": [
            {"value": "yes", "en": "Yes", "es": "Sí"},
            {"value": "no", "en": "No, not yet", "es": "No, todavía no"},
            {"value": "dont_know", "en": "I don't know", "es": "No sé"},
        ],
        "condition": {"equals": {"question": "i130_filed", "value": "yes"}},
    },
    {
        "key": "job_offer",
        "kind": "choice",
        "label": text(
            "Do you have a job offer from an employer in the United States?",
            "¿Tiene una oferta de trabajo de un empleador en Estados Unidos?",
        ),
        "choices": [
            {"value": "agricultural", "en": "Yes, agricultural work", "es": "Sí, trabajo agrícola"},
            {"value": "non_agricultural", "en": "Yes, other seasonal work", "es": "Sí, otro trabajo temporal"},
            {"value": "no", "en": "No", "es": "No"},
        ],
    },
]

SERVED = {
    "all": [
        {
            "host": "office",
            "reason": text(
                "There is no Safe Mobility Office in %(country)s. The offices are in Guatemala, Colombia, Costa Rica "
                "and Ecuador.",
                "No hay una Oficina de Movilidad Segura en %(country)s. Las oficinas están en Guatemala, Colombia, "
                "Costa Rica y Ecuador.",
            ),
        },
        {
            "host": "nationality",
            "reason": text(
                "The office in %(country)s serves only people from %(nationalities)s.",
                "La oficina de %(country)s solo atiende a personas de %(nationalities)s.",
            ),
        },
        {
            "host": "presence",
            "reason": text(
                "The office in %(country)s serves only people who arrived there on or before %(cutoff)s. You told "
                "us you arrived on %(arrival)s.",
                "La oficina de %(country)s solo atiende a personas que llegaron a más tardar el %(cutoff)s. Nos dijo "
                "que llegó el %(arrival)s.",
            ),
        },
        {
            "host": "status",
            "reason": text(
                "In %(country)s, the program serves only %(statuses)s.",
                "En %(country)s, el programa solo atiende a %(statuses)s.",
            ),
        },
        {
            "age_at_least": {"question": "date_of_birth", "years": 18},
            "reason": text(
                "You must be %(years)s or older. Family members under %(years)s are listed on an adult's appointment.",
                "Debe tener %(years)s años o más. Los familiares menores de %(years)s años se incluyen en la cita de "
                "un adulto.",
            ),
        },
    ],
    "met": text(
        "The office in the country where you live serves people in your situation.",
        "La oficina del país donde vive atiende a personas en su situación.",
    ),
}

PATHWAYS: list[dict[str, Any]] = [
    {
        "code": "refugee",
        "order": 1,
        "active": True,
        "name": text("Refugee processing (United States)", "Reasentamiento como refugiado (Estados Unidos)"),
        "description": text(
            "The US Refugee Admissions Program, for people persecuted or who fear persecution because of race, "
            "religion, nationality, political opinion or membership of a particular social group.",
            "El Programa de Admisión de Refugiados de Estados Unidos, para personas perseguidas o que temen "
            "persecución por su raza, religión, nacionalidad, opinión política o pertenencia a un grupo social.",
        ),
        "bring": text(
            "Your passport or identity document, and any document about what happened to you.",
            "Su pasaporte o documento de identidad, y cualquier documento sobre lo que le ocurrió.",
        ),
        "rule": {
            "all": [
                SERVED,
                {
                    "equals": {"question": "fear_of_persecution", "value": "yes"},
                    "reason": text(
                        "Refugee processing is for people who were persecuted or fear persecution.",
                        "El reasentamiento es para personas perseguidas o que temen persecución.",
                    ),
                    "met": text(
                        "You told us you were persecuted or fear persecution.",
                        "Nos dijo que fue perseguido o teme persecución.",
                    ),
                },
            ]
        },
    },
    {
        "code": "family-reunification",
        "order": 2,
        "active": True,
        "name": text("Family reunification parole", "Permiso de reunificación familiar"),
        "description": text(
            "For people outside the United States whose relative, a US citizen or permanent resident, filed a "
            "Form I-130 petition for them that was approved.",
            "Para personas fuera de Estados Unidos cuyo familiar, ciudadano o residente permanente, presentó a "
            "su favor una petición I-130 que fue aprobada.",
        ),
        "bring": text(
            "Your passport, and the I-130 approval notice (Form I-797) if you have it.",
            "Su pasaporte y el aviso de aprobación de la I-130 (formulario I-797) si lo tiene.",
        ),
        "rule": {
            "all": [
                SERVED,
                {
                    "in": {"question": "us_relative", "values": ["citizen", "permanent_resident"]},
                    "reason": text(
                        "This pathway needs a relative who is a US citizen or permanent resident.",
                        "Esta vía requiere un familiar ciudadano o residente permanente de Estados Unidos.",
                    ),
                },
                {
                    "equals": {"question": "i130_filed", "value": "yes"},
                    "reason": text(
                        "This pathway needs your relative to file a Form I-130 petition for you first. If you do not "
                        "know whether they did, ask them.",
                        "Esta vía requiere que su familiar presente primero una petición I-130 a su favor. Si no sabe "
                        "si lo hizo, pregúntele.",
                    ),
                },
                {
                    "equals": {"question": "i130_approved", "value": "yes"},
                    "reason": text(
                        "This pathway needs the I-130 petition to be approved. You can answer the questions again "
                        "when your relative receives the approval notice (Form I-797).",
                        "Esta vía requiere que la petición I-130 esté aprobada. Puede responder las preguntas de nuevo "
                        "cuando su familiar reciba el aviso de aprobación (formulario I-797).",
                    ),
                    "met": text(
                        "A relative in the United States has an approved I-130 petition for you.",
                        "Un familiar en Estados Unidos tiene una petición I-130 aprobada a su favor.",
                    ),
                },
            ]
        },
    },
    {
        "code": "temporary-work",
        "order": 3,
        "active": True,
        "name": text("Temporary work visas (H-2A and H-2B)", "Visas de trabajo temporal (H-2A y H-2B)"),
        "description": text(
            "Seasonal work in the United States: H-2A for agriculture (no yearly limit) and H-2B for other work "
            "(limited each year). An employer files the petition.",
            "Trabajo temporal en Estados Unidos: H-2A para la agricultura (sin límite anual) y H-2B para otros "
            "trabajos (con límite anual). Un empleador presenta la petición.",
        ),
        "bring": text(
            "Your passport and any letter or contract from the employer.",
            "Su pasaporte y cualquier carta o contrato del empleador.",
        ),
        "rule": {
            "all": [
                SERVED,
                {
                    "in": {"question": "job_offer", "values": ["agricultural", "non_agricultural"]},
                    "reason": text(
                        "Temporary work visas need a job offer from a US employer.",
                        "Las visas de trabajo temporal requieren una oferta de un empleador de Estados Unidos.",
                    ),
                    "met": text(
                        "You have a job offer from a US employer.",
                        "Tiene una oferta de trabajo de un empleador de Estados Unidos.",
                    ),
                },
                {
                    "in": {"question": "nationality", "values": H2_NATIONALITIES},
                    "reason": text(
                        "Your nationality is not on this year's list of countries eligible for H-2 visas.",
                        "Su nacionalidad no está en la lista de este año de países elegibles para visas H-2.",
                    ),
                },
            ]
        },
    },
    {
        "code": "labour-other-countries",
        "order": 4,
        "active": False,
        "name": text("Work and family routes to Canada and Spain", "Vías laborales y familiares a Canadá y España"),
        "description": text(
            "Programs of other countries for workers and families, open to some applicants.",
            "Programas de otros países para trabajadores y familias, abiertos a algunas personas.",
        ),
        "bring": text("Your passport.", "Su pasaporte."),
        "rule": SERVED,
    },
]


NOTES = (
    'Program rules as announced in 2023; the I-130 question split in two (filed? approved?) with "I don\'t know", '
    "and reasons that name each country's rule."
)


def load(apps: Any) -> None:
    """Create the seeded pathways and the first published version, unless a version exists."""
    if apps.get_model("eligibility", "ScreenerVersion").objects.exists():
        return
    _create(apps, number=1)


def upgrade(apps: Any) -> None:
    """Publish this file's rules as a new version over the 2023 seed, unless they are live already
    (a new database gets them as version 1) or an administrator has published another version."""
    version_model = apps.get_model("eligibility", "ScreenerVersion")
    question_model = apps.get_model("eligibility", "Question")
    published = version_model.objects.filter(status="published").first()
    if published is None or published.number != 1:
        return
    if question_model.objects.filter(version=published, key="i130_filed").exists():
        return
    highest = version_model.objects.order_by("-number").values_list("number", flat=True).first()
    version_model.objects.filter(pk=published.pk).update(status="retired")
    _create(apps, number=highest + 1, based_on=published)


def _create(apps: Any, *, number: int, based_on: Any = None) -> None:
    version_model = apps.get_model("eligibility", "ScreenerVersion")
    pathway_model = apps.get_model("eligibility", "Pathway")
    question_model = apps.get_model("eligibility", "Question")
    host_model = apps.get_model("eligibility", "HostCountry")
    rule_model = apps.get_model("eligibility", "PathwayRule")
    # Filled as a draft, then published: published content cannot be written.
    version = version_model.objects.create(number=number, status="draft", notes=NOTES, based_on=based_on)
    for host in HOSTS:
        host_model.objects.create(version=version, **host)
    for order, question in enumerate(QUESTIONS, start=1):
        question_model.objects.create(
            version=version,
            key=question["key"],
            kind=question["kind"],
            order=order * 10,
            label_en=question["label"]["en"],
            label_es=question["label"]["es"],
            hint_en=question.get("hint", {}).get("en", ""),
            hint_es=question.get("hint", {}).get("es", ""),
            choices=question.get("choices", []),
            condition=question.get("condition"),
        )
    for pathway in PATHWAYS:
        created, _ = pathway_model.objects.update_or_create(
            code=pathway["code"],
            defaults={
                "order": pathway["order"],
                **{
                    f"{field}_{language}": pathway[field][language]
                    for field in ("name", "description", "bring")
                    for language in ("en", "es")
                },
            },
        )
        rule_model.objects.create(version=version, pathway=created, active=pathway["active"], condition=pathway["rule"])
    version_model.objects.filter(pk=version.pk).update(status="published", published_at=version.created_at)


def add_creole(apps: Any) -> None:
    """Give the seeded texts their Haitian Creole (eligibility/seed_creole.py), in every version
    and pathway, where an administrator has not written one: this adds a language, it changes no
    rule, so published versions get it too (a migration's models skip the frozen-version guard)."""
    from eligibility.seed_creole import CREOLE

    for pathway in apps.get_model("eligibility", "Pathway").objects.all():
        changed = {
            f"{field}_ht": CREOLE[getattr(pathway, f"{field}_en")]
            for field in ("name", "description", "bring")
            if not getattr(pathway, f"{field}_ht") and getattr(pathway, f"{field}_en") in CREOLE
        }
        if changed:
            type(pathway).objects.filter(pk=pathway.pk).update(**changed)
    for question in apps.get_model("eligibility", "Question").objects.all():
        changed = {
            f"{field}_ht": CREOLE[getattr(question, f"{field}_en")]
            for field in ("label", "hint")
            if not getattr(question, f"{field}_ht") and getattr(question, f"{field}_en") in CREOLE
        }
        choices = _with_creole(question.choices, CREOLE)
        if choices != question.choices:
            changed["choices"] = choices
        if changed:
            type(question).objects.filter(pk=question.pk).update(**changed)
    for rule in apps.get_model("eligibility", "PathwayRule").objects.all():
        condition = _with_creole(rule.condition, CREOLE)
        if condition != rule.condition:
            type(rule).objects.filter(pk=rule.pk).update(condition=condition)


def _with_creole(node: Any, creole: dict[str, str]) -> Any:
    """A copy of a JSON value where every {"en": ..., "es": ...} text known to `creole` has "ht"."""
    if isinstance(node, list):
        return [_with_creole(item, creole) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {key: _with_creole(value, creole) for key, value in node.items()}
    if "en" in copy and "es" in copy and "ht" not in copy and copy["en"] in creole:
        copy["ht"] = creole[copy["en"]]
    return copy
