"""Program administrators change the rules in a draft, try them, and publish them."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import translation

from core.services import ROLE_OFFICE_STAFF, ROLE_PROGRAM_ADMIN
from eligibility.models import PathwayRule, Question, ScreenerVersion, Screening
from eligibility.selectors import load_screener
from eligibility.services import ScreeningError, create_draft, publish_version, record_screening
from tests.conftest import sign_in


def user_in(role: str) -> Client:
    user = get_user_model().objects.create_user(username=role.replace(" ", "-"), password="x" * 16, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client(headers={"accept-language": "en"})
    return sign_in(client, user)


@pytest.fixture
def program_admin(published: ScreenerVersion) -> Client:
    return user_in(ROLE_PROGRAM_ADMIN)


def test_only_program_administrators_edit_the_screener(published: ScreenerVersion, program_admin: Client) -> None:
    staff = user_in(ROLE_OFFICE_STAFF)
    for url in ("/admin/eligibility/question/", "/admin/eligibility/pathwayrule/", "/admin/eligibility/pathway/"):
        assert staff.get(url).status_code == 403
        assert program_admin.get(url).status_code == 200
    assert staff.get(f"/admin/eligibility/screenerversion/{published.pk}/try/").status_code == 403


def test_published_content_is_read_only(published: ScreenerVersion, program_admin: Client) -> None:
    question = Question.objects.get(version=published, key="nationality")
    response = program_admin.post(
        f"/admin/eligibility/question/{question.pk}/change/", {"label_en": "Changed", "label_es": "Cambiado"}
    )
    assert response.status_code == 403
    question.refresh_from_db()
    assert question.label_en == "What is your nationality?"
    question.label_en = "Changed"
    with translation.override("en"), pytest.raises(ValidationError, match="A published version cannot be changed"):
        question.full_clean()


def test_invalid_rule_is_rejected_with_where_the_error_is(published: ScreenerVersion, program_admin: Client) -> None:
    draft = create_draft(source=published)
    rule = PathwayRule.objects.get(version=draft, pathway__code="refugee")
    response = program_admin.post(
        f"/admin/eligibility/pathwayrule/{rule.pk}/change/",
        {
            "version": draft.pk,
            "pathway": rule.pathway_id,
            "condition": '{"all": [{"equals": {"question": "fear_of_persecution"}}]}',
        },
    )
    assert response.status_code == 200
    assert "condition.all[0].equals: expected an object with the keys question, value" in response.content.decode()
    rule.refresh_from_db()
    assert rule.condition["all"][1]["equals"] == {"question": "fear_of_persecution", "value": "yes"}


def test_draft_try_publish_and_new_screenings_use_it(published: ScreenerVersion, program_admin: Client) -> None:
    response = program_admin.post(
        "/admin/eligibility/screenerversion/", {"action": "new_draft", "_selected_action": [published.pk]}
    )
    assert response.status_code == 302
    draft = ScreenerVersion.objects.get(status="draft")
    assert Question.objects.filter(version=draft).count() == Question.objects.filter(version=published).count()

    # The program stops requiring asylum registration in Costa Rica.
    host = draft.hostcountry_set.get(country="CR")
    response = program_admin.post(
        f"/admin/eligibility/hostcountry/{host.pk}/change/",
        {
            "version": draft.pk,
            "country": "CR",
            "nationalities": ["NI", "VE"],
            "presence_cutoff": "2023-06-12",
            "statuses": "[]",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]

    answers = {
        "current_country-answer": "CR",
        "nationality-answer": "NI",
        "date_of_birth-answer_0": "1",
        "date_of_birth-answer_1": "2",
        "date_of_birth-answer_2": "1985",
        "arrival_date-answer_0": "1",
        "arrival_date-answer_1": "1",
        "arrival_date-answer_2": "2022",
        "legal_status-answer": "none",
        "fear_of_persecution-answer": "yes",
        "us_relative-answer": "no",
        "job_offer-answer": "no",
    }
    old = program_admin.post(f"/admin/eligibility/screenerversion/{published.pk}/try/", answers).content.decode()
    new = program_admin.post(f"/admin/eligibility/screenerversion/{draft.pk}/try/", answers).content.decode()
    assert "Refugee processing (United States): not eligible" in old
    assert "host country: status</code></td>\n              <td>✘ failed" in old
    assert "Refugee processing (United States): may be eligible" in new
    assert "(inactive pathway)" in new

    response = program_admin.post(
        "/admin/eligibility/screenerversion/", {"action": "publish", "_selected_action": [draft.pk]}
    )
    assert response.status_code == 302
    published.refresh_from_db()
    draft.refresh_from_db()
    assert (published.status, draft.status) == ("retired", "published")

    # New screenings use the published draft; the earlier result keeps its version.
    earlier = Screening.objects.create(version=published, answers={}, outcomes={}, language="en")
    screener = load_screener(draft)
    given = {key.removesuffix("-answer"): value for key, value in answers.items() if key.endswith("-answer")}
    given |= {"date_of_birth": "1985-02-01", "arrival_date": "2022-01-01"}
    screening = record_screening(screener=screener, answers=given, language="en")
    assert screening.version == draft
    assert "refugee" in screening.eligible_pathways
    earlier.refresh_from_db()
    assert earlier.version == published


def test_only_one_version_is_published(published: ScreenerVersion) -> None:
    draft = create_draft(source=published)
    with pytest.raises(IntegrityError), transaction.atomic():
        ScreenerVersion.objects.filter(pk=draft.pk).update(status="published")
    publish_version(version=draft)
    assert list(ScreenerVersion.objects.filter(status="published")) == [draft]
    with translation.override("en"), pytest.raises(ScreeningError, match=r"Only a draft can be published\."):
        publish_version(version=draft)


def test_published_content_cannot_be_saved_even_without_clean(published: ScreenerVersion) -> None:
    question = Question.objects.get(version=published, key="nationality")
    question.label_en = "Changed"
    with pytest.raises(ValidationError):
        question.save()
    with pytest.raises(ValidationError):
        question.delete()
    assert Question.objects.get(pk=question.pk).label_en == "What is your nationality?"


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            {"equals": {"question": "fear_of_persecusion", "value": "yes"}, "reason": {"en": "x", "es": "y"}},
            "condition.equals.question: no question 'fear_of_persecusion' asked before it",
        ),
        (
            {"equals": {"question": "fear_of_persecution", "value": True}, "reason": {"en": "x", "es": "y"}},
            "condition.equals.value: 'fear_of_persecution' is never True (its answers: 'no', 'yes')",
        ),
        (
            {"all": [{"in": {"question": "us_relative", "values": ["citizn"]}, "reason": {"en": "x", "es": "y"}}]},
            "condition.all[0].in.values[0]: 'us_relative' is never 'citizn'",
        ),
        (
            {"before": {"question": "nationality", "date": "2023-01-01"}, "reason": {"en": "x", "es": "y"}},
            "condition.before.question: 'nationality' is not a date question",
        ),
        (
            {"all": [{"equals": {"question": "fear_of_persecution", "value": "yes"}}]},
            'condition.all[0]: needs a "reason" to show the applicant when it is not met',
        ),
        (
            {"not": {"equals": {"question": "job_offer", "value": "no"}, "reason": {"en": "x", "es": "y"}}},
            'condition: needs a "reason" to show the applicant when it is not met',
        ),
    ],
)
def test_rules_that_cannot_work_are_refused(published: ScreenerVersion, condition: dict, message: str) -> None:
    draft = create_draft(source=published)
    rule = PathwayRule.objects.get(version=draft, pathway__code="refugee")
    rule.condition = condition
    with translation.override("en"), pytest.raises(ValidationError) as error:
        rule.full_clean()
    assert error.value.message_dict["condition"][0].startswith(message)


def test_question_conditions_may_only_read_earlier_questions(published: ScreenerVersion) -> None:
    draft = create_draft(source=published)
    question = Question.objects.get(version=draft, key="nationality")
    question.condition = {"equals": {"question": "job_offer", "value": "no"}}
    with translation.override("en"), pytest.raises(ValidationError) as error:
        question.full_clean()
    assert error.value.message_dict["condition"] == [
        "condition.equals.question: no question 'job_offer' asked before it"
    ]


def test_deactivating_a_pathway_in_a_draft_leaves_the_published_version_alone(published: ScreenerVersion) -> None:
    draft = create_draft(source=published)
    PathwayRule.objects.filter(version=draft, pathway__code="refugee").update(active=False)
    screener = load_screener(published)
    answers = {"current_country": "GT", "nationality": "GT", "date_of_birth": "1980-01-01"}
    answers |= {"fear_of_persecution": "yes", "us_relative": "no", "job_offer": "no"}
    assert record_screening(screener=screener, answers=answers, language="en").eligible_pathways == ["refugee"]
    assert record_screening(screener=load_screener(draft), answers=answers, language="en").outcomes.keys() == {
        "family-reunification",
        "temporary-work",
    }


def test_absurdly_nested_json_is_an_error_not_a_crash(published: ScreenerVersion, program_admin: Client) -> None:
    draft = create_draft(source=published)
    rule = PathwayRule.objects.get(version=draft, pathway__code="refugee")
    deep = '{"not": ' * 5000 + '{"all": []}' + "}" * 5000
    response = program_admin.post(
        f"/admin/eligibility/pathwayrule/{rule.pk}/change/",
        {"version": draft.pk, "pathway": rule.pathway_id, "active": "on", "condition": deep},
    )
    assert response.status_code == 200
    assert "This condition is nested too deeply." in response.content.decode()


def test_texts_come_in_both_languages_or_neither(published: ScreenerVersion) -> None:
    draft = create_draft(source=published)
    question = Question.objects.get(version=draft, key="nationality")
    question.hint_es = ""
    with translation.override("en"):
        with pytest.raises(ValidationError) as error:
            question.full_clean()
        # The message is lazy: read it in English too, not in whatever language is active after.
        assert error.value.message_dict["hint_es"] == ["Give the hint in both languages, or in neither."]


def test_rule_errors_are_translated(published: ScreenerVersion) -> None:
    draft = create_draft(source=published)
    rule = PathwayRule.objects.get(version=draft, pathway__code="refugee")
    rule.condition = {"equals": {"question": "fear_of_persecution"}}
    with translation.override("es"), pytest.raises(ValidationError) as error:
        rule.full_clean()
    assert error.value.message_dict["condition"] == [
        "condition.equals: se esperaba un objeto con las claves question, value"
    ]
