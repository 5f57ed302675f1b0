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
        "key": "i130_approved",
        "kind": "yes_no",
        "label": text(
            "Has that relative filed a Form I-130 petition for you, and has it been approved?",
            "¿Ese familiar presentó una petición I-130 a su favor y fue aprobada?",
        ),
        "condition": {"in": {"question": "us_relative", "values": ["citizen", "permanent_resident"]}},
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
                "There is no Safe Mobility Office in the country where you live.",
                "No hay una Oficina de Movilidad Segura en el país donde vive.",
            ),
        },
        {
            "host": "nationality",
            "reason": text(
                "The office in the country where you live does not serve people of your nationality.",
                "La oficina del país donde vive no atiende a personas de su nacionalidad.",
            ),
        },
        {
            "host": "presence",
            "reason": text(
                "You arrived in the country where you live after the date the program accepts.",
                "Llegó al país donde vive después de la fecha que acepta el programa.",
            ),
        },
        {
            "host": "status",
            "reason": text(
                "In the country where you live, the program serves only people with the immigration status it "
                "requires (for example, registered asylum seekers).",
                "En el país donde vive, el programa solo atiende a personas con la situación migratoria que exige "
                "(por ejemplo, solicitantes de asilo registrados).",
            ),
        },
        {
            "age_at_least": {"question": "date_of_birth", "years": 18},
            "reason": text(
                "You must be 18 or older. Family members under 18 are listed on an adult's appointment.",
                "Debe tener 18 años o más. Los familiares menores de 18 años se incluyen en la cita de un adulto.",
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
                    "equals": {"question": "i130_approved", "value": "yes"},
                    "reason": text(
                        "This pathway needs an approved Form I-130 petition filed for you.",
                        "Esta vía requiere una petición I-130 aprobada a su favor.",
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


def load(apps: Any) -> None:
    """Create the seeded pathways and the first published version, unless a version exists."""
    version_model = apps.get_model("eligibility", "ScreenerVersion")
    if version_model.objects.exists():
        return
    pathway_model = apps.get_model("eligibility", "Pathway")
    question_model = apps.get_model("eligibility", "Question")
    host_model = apps.get_model("eligibility", "HostCountry")
    rule_model = apps.get_model("eligibility", "PathwayRule")
    # Filled as a draft, then published: published content cannot be written.
    version = version_model.objects.create(number=1, status="draft", notes="Program rules as announced in 2023.")
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
        created = pathway_model.objects.create(
            code=pathway["code"],
            order=pathway["order"],
            name_en=pathway["name"]["en"],
            name_es=pathway["name"]["es"],
            description_en=pathway["description"]["en"],
            description_es=pathway["description"]["es"],
            bring_en=pathway["bring"]["en"],
            bring_es=pathway["bring"]["es"],
        )
        rule_model.objects.create(version=version, pathway=created, active=pathway["active"], condition=pathway["rule"])
    version_model.objects.filter(pk=version.pk).update(status="published", published_at=version.created_at)
