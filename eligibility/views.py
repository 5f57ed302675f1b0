"""Public screener pages: start → one question a page → check your answers → result.

The answers live in the session with the version the applicant started on, so a rule change in the
middle of a screener never changes its questions or its result. The version is pinned by the first
answer, not by the start button: until then the pages show the published version and write no
session (everyone presses Start at a release).
"""

from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from core.limits import over_limit, refused, try_again
from core.pages import render_shared
from eligibility.forms import AnswerForm, DateParts
from eligibility.models import Question, Screening
from eligibility.rules import CURRENT_COUNTRY
from eligibility.selectors import (
    Screener,
    first_unanswered,
    frozen_stamp,
    pinned_screener,
    published_screener,
)
from eligibility.services import (
    ScreeningError,
    count_start,
    is_finished,
    minimised_outcomes,
    record_screening,
    screening_reference,
)

SESSION_KEY = "screener"
# Kinds answered with several inputs (radios, day/month/year), grouped in a fieldset.
GROUPED_KINDS = (Question.Kind.YES_NO, Question.Kind.CHOICE, Question.Kind.DATE)
# Kinds whose answer is one of a list (never typed): a page with it chosen is the same for everyone.
CHOSEN_KINDS = (Question.Kind.YES_NO, Question.Kind.CHOICE, Question.Kind.COUNTRY)
# In a kept date page, the marks in its day, month and year boxes (core.pages).
DATE_MARKS = ("answermarkday5e0c", "answermarkmonth5e0c", "answermarkyear5e0c")
RESULT_KEY = "screening"
# What the booking may fill in from the answers (never stored with the anonymous screening).
KNOWN_KEY = "screened_person"
# What the result page reads of a screening kept by a session from before the result rode in it.
SHOWN_FIELDS = ("outcomes", "version__status", "version__published_at")


@require_safe
def start(request: HttpRequest) -> HttpResponse:
    """The service's start page: what it is, who it is for, that it is free, how long it takes."""
    return render_shared(request, "eligibility/start.html", {}, key=())  # the same for everyone


def _session(request: HttpRequest) -> dict[str, Any] | None:
    data = request.session.get(SESSION_KEY)
    return data if isinstance(data, dict) and isinstance(data.get("answers"), dict) else None


def _screener(request: HttpRequest) -> Screener | None:
    """The screener pinned in this session, if the session has one and its version still exists."""
    data = _session(request)
    if data is None:
        return None
    return pinned_screener(data.get("version"), data.get("frozen"))


def _save_answers(request: HttpRequest, screener: Screener, answers: dict[str, Any]) -> None:
    """Store the answers; the first ones pin the screener they answer."""
    data = _session(request) or {"version": screener.version.pk, "frozen": frozen_stamp(screener.version)}
    request.session[SESSION_KEY] = {**data, "answers": answers}


def _closed(request: HttpRequest) -> HttpResponse:
    return render(request, "eligibility/questions_closed.html", status=503)


@require_safe
def begin(request: HttpRequest) -> HttpResponse:
    """The start button: resume the screener this session is on, or go to the published version's
    first question, writing nothing ("Answer the questions again" forgets the answers given)."""
    restart = bool(request.GET.get("restart"))
    screener = None if restart else _screener(request)
    if screener is not None:
        return _go_on(request, screener, _session(request)["answers"])
    if restart and SESSION_KEY in request.session:
        del request.session[SESSION_KEY]
    screener = published_screener()
    if screener is None:
        return _closed(request)
    return _go_on(request, screener, {})


def _go_on(request: HttpRequest, screener: Screener, answers: dict[str, Any]) -> HttpResponseRedirect:
    today = timezone.localdate()
    question = screener.next_question(answers, today)
    if question is None or screener.ruled_out(answers, today):
        return redirect("eligibility:check")
    return redirect("eligibility:question", key=question.key)


def _bad_request(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "eligibility/bad_request.html", {"message": message}, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
def question(request: HttpRequest, key: str) -> HttpResponse:
    screener = _screener(request)
    pinned = screener is not None
    if screener is None:
        # Not started: the published version's first question, pinned when it is answered.
        screener = published_screener()
        if screener is None:
            return _closed(request)
    answers = _session(request)["answers"] if pinned else {}
    today = timezone.localdate()
    applicable, kept = screener.walk(answers, today)
    current = next((q for q in applicable if q.key == key), None)
    next_one = first_unanswered(applicable, kept)
    reachable = current is not None and (current.key in kept or current == next_one)
    changing = request.GET.get("change") == "1"
    if not reachable:
        if request.method == "POST":
            # Only a hand-made request can answer a question that was not asked, or skip ahead.
            if current is None:
                return _bad_request(request, _("That question does not apply to your answers."))
            return _bad_request(request, _("Please answer the questions in order."))
        return _go_on(request, screener, kept) if pinned else redirect("eligibility:begin")

    data = request.POST if request.method == "POST" else None
    # A date the person gave (their birth, their arrival) is theirs alone: shown on a GET, the page
    # is kept with a mark in each box, and this request's date is written in (core.pages).
    fill = _date_fill(current, kept.get(current.key)) if data is None else {}
    initial = list(DATE_MARKS) if fill else kept.get(current.key)
    form = AnswerForm(data, question=current, answers=kept, initial={"answer": initial})
    if request.method == "POST" and form.is_valid():
        if not kept:
            # The first answer given: a screener started (counted for the reports, anonymously).
            answer = form.cleaned_data["answer"]
            country = answer if current.key == CURRENT_COUNTRY and isinstance(answer, str) and len(answer) == 2 else ""
            count_start(host_country=country)
        kept[current.key] = form.cleaned_data["answer"]
        applicable, kept = screener.walk(kept, today)
        _save_answers(request, screener, kept)
        if changing and first_unanswered(applicable, kept) is None:
            return redirect("eligibility:check")
        if not screener.ruled_out(kept, today):
            # The next question in order (after the back link, the one already answered next), which
            # is never past the first unanswered one because every question before that is answered.
            position = applicable.index(current)
            if position + 1 < len(applicable) and not changing:
                return redirect("eligibility:question", key=applicable[position + 1].key)
            return _go_on(request, screener, kept)
        # No pathway can fit whatever comes next: stop now and say why, rather than ask the
        # rest. The answers stay in the session, so "change your answers" still works.
        wait = _too_many_finished(request)
        if wait is None:
            return _finish(request, screener, kept, keep_answers=True)
        # Over the limit: this question again, its answer still chosen, saying when to try again.

    else:
        wait = None
    position = applicable.index(current)
    back = (
        reverse("eligibility:check")
        if changing
        else reverse("eligibility:question", kwargs={"key": applicable[position - 1].key})
        if position
        else reverse("eligibility:start")
    )
    number, total = position + 1, max(len(screener.still_possible(kept, today)), position + 1)
    chosen = kept.get(current.key)
    stamp = frozen_stamp(screener.version)
    # What the page shows besides the language and the path (core.pages): None, rendered for this
    # request alone, for an error, a draft's question or anything else the person typed.
    shared = (
        (screener.version.pk, stamp, number, total, back, "date" if fill else chosen)
        if stamp
        and wait is None
        and not form.errors
        and (chosen is None or fill or (current.kind in CHOSEN_KINDS and isinstance(chosen, str)))
        else None
    )
    response = render_shared(
        request,
        "eligibility/question.html",
        {
            "question": current,
            "form": form,
            "back_url": back,
            "number": number,
            "total": total,
            "changing": changing,
            "grouped": current.kind in GROUPED_KINDS,
        },
        key=shared,
        fill=fill,
    )
    return refused(response, wait) if wait is not None else response


def _date_fill(question: Question, chosen: Any) -> dict[str, str]:
    """The marks of a kept date page and this person's day, month and year ({} if not a date)."""
    parts = DateParts().decompress(chosen) if question.kind == Question.Kind.DATE else [None]
    return {} if None in parts else dict(zip(DATE_MARKS, (str(part) for part in parts), strict=True))


def _too_many_finished(request: HttpRequest) -> int | None:
    """Count a screening about to finish against SCREENING_FINISH_RATE; over it, say so (with when
    to try again) on the page shown again and return the seconds to wait. Fails open: a screening
    takes nothing scarce (core/limits.py)."""
    wait = over_limit(request, group="eligibility.finish", rate=settings.SCREENING_FINISH_RATE, fail_closed=False)
    if wait is not None:
        messages.error(
            request,
            "{} {}".format(
                _(
                    "Many screenings were finished from this connection in the last hour, more than we allow. "
                    "Your answers are kept on this device: press the button again later to see your result."
                ),
                try_again(wait),
            ),
        )
    return wait


def _labels(form: AnswerForm) -> dict[Any, Any]:
    """Each answer's label, the countries' too (their list comes in two groups)."""
    labels: dict[Any, Any] = {}
    for value, label in getattr(form.fields["answer"], "choices", []):
        if isinstance(label, list | tuple):
            labels.update(label)
        else:
            labels[value] = label
    return labels


# The summary's answers as shown, for a frozen version's questions whose answers come from a list:
# (version, stamp, question, language) → {answer: label}. A few per question and language.
_shown_labels: dict[tuple[Any, ...], dict[Any, Any]] = {}
# Where each answer goes in a kept summary page, and each reason and the booking link's reference
# in a kept result page (letters and digits, as core.pages.TOKEN_MARK).
ANSWER_MARK = "answermark{}c8e1"
RESULT_MARK = "reasonmark{}f3a9"
REFERENCE_MARK = "referencemarkb6d2"


def _shown(question: Question, answer: Any, stamp: str) -> str:
    """An answer as the summary shows it: a date as day/month/year, a choice by its label. A frozen
    version's labels are made once per question and language (the summary at a rush shows ten),
    not with a form for each answer."""
    if question.kind == Question.Kind.DATE:
        return "/".join(str(part) for part in DateParts().decompress(answer))
    if not stamp or question.kind not in CHOSEN_KINDS:
        return str(_labels(AnswerForm(question=question)).get(answer, answer))
    kept = (question.version_id, stamp, question.key, get_language())
    labels = _shown_labels.get(kept)
    if labels is None:
        if len(_shown_labels) >= 1000:
            _shown_labels.clear()
        labels = _shown_labels[kept] = _labels(AnswerForm(question=question))
    return str(labels.get(answer, answer))


@require_http_methods(["GET", "HEAD", "POST"])
def check(request: HttpRequest) -> HttpResponse:
    screener = _screener(request)
    if screener is None or not _session(request)["answers"]:
        return redirect("eligibility:start")
    today = timezone.localdate()
    applicable, kept = screener.walk(_session(request)["answers"], today)
    if not is_finished(screener, kept, today):
        return _go_on(request, screener, kept)
    wait = _too_many_finished(request) if request.method == "POST" else None
    if request.method == "POST" and wait is None:
        return _finish(request, screener, kept, keep_answers=False)
    stamp = frozen_stamp(screener.version)
    shown = [q for q in applicable if q.key in kept]
    # Kept by each process for a frozen version (core.pages), one copy for each list of questions:
    # each person's answers are filled in at marks, never kept in the copy.
    marks = [ANSWER_MARK.format(n) for n in range(len(shown))]
    response = render_shared(
        request,
        "eligibility/check.html",
        lambda: {"rows": list(zip(shown, marks, strict=True))},
        key=(screener.version.pk, stamp, tuple(q.key for q in shown)) if stamp and wait is None else None,
        fill={mark: _shown(q, kept[q.key], stamp) for mark, q in zip(marks, shown, strict=True)},
    )
    return refused(response, wait) if wait is not None else response


def _finish(request: HttpRequest, screener: Screener, answers: dict[str, Any], *, keep_answers: bool) -> HttpResponse:
    try:
        screening = record_screening(screener=screener, answers=answers, language=get_language())
    except ScreeningError as exc:
        return _bad_request(request, exc.message)
    # What the result page shows rides in the session (as the answers did), so that page reads
    # nothing from the database at a rush. Opening the appointment booked with it in this session
    # drops the reasons from it as booking did from the screening (`forget_reasons`, called by
    # `show_appointment`); otherwise they go with the session (SESSION_HOURS).
    request.session[RESULT_KEY] = {
        "screening": screening.pk,
        "version": screening.version_id,
        "frozen": frozen_stamp(screening.version),
        "outcomes": screening.outcomes,
    }
    if screening.eligible_pathways:
        request.session[KNOWN_KEY] = {
            "screening": screening.pk,
            **{key: answers.get(key) for key in ("date_of_birth", "nationality")},
        }
    if not keep_answers:
        del request.session[SESSION_KEY]
    return redirect("eligibility:result")


def _result_of(request: HttpRequest) -> tuple[Screening, str] | None:
    """The screening whose result the page shows (its outcomes, not its answers) and its version's
    frozen stamp, from the session: a rush reads this page as often as a question."""
    kept = request.session.get(RESULT_KEY)
    if isinstance(kept, int):  # a session from before the result rode in it (SESSION_HOURS at most)
        screening = Screening.objects.select_related("version").only(*SHOWN_FIELDS).filter(pk=kept).first()
        return None if screening is None else (screening, frozen_stamp(screening.version))
    if not isinstance(kept, dict) or not isinstance(kept.get("outcomes"), dict):
        return None
    screening = Screening(pk=kept.get("screening"), version_id=kept.get("version"), outcomes=kept["outcomes"])
    return screening, str(kept.get("frozen") or "")


def forget_reasons(request: HttpRequest, screening: int) -> None:
    """This screening was used for a booking (`minimise_screenings`): its result in the session
    keeps what the screening keeps, not the reasons written with the answers."""
    kept = request.session.get(RESULT_KEY)
    if isinstance(kept, dict) and kept.get("screening") == screening and isinstance(kept.get("outcomes"), dict):
        request.session[RESULT_KEY] = {**kept, "outcomes": minimised_outcomes(kept["outcomes"])}


@require_safe
def result(request: HttpRequest) -> HttpResponse:
    shown = _result_of(request)
    if shown is None:
        return redirect("eligibility:start")
    screening, stamp = shown
    language = (get_language() or "es")[:2]

    def text(value: dict[str, str]) -> str:
        # A text left empty (what to bring is optional) is stored without its languages.
        return value.get(language) or value.get("en", "")

    outcomes = [
        {
            "name": text(outcome["name"]),
            "description": text(outcome["description"]),
            "bring": text(outcome["bring"]),
            "eligible": outcome["eligible"],
            # A screening used for a booking keeps no reasons (they may quote the answers).
            "reasons": [text(reason) for reason in outcome.get("reasons", [])],
            "order": (not outcome["eligible"], outcome["order"], code),
        }
        for code, outcome in screening.outcomes.items()
    ]
    # The pathways that may fit come first, each group in the program's display order.
    outcomes.sort(key=lambda item: item["order"])
    eligible = [item for item in outcomes if item["eligible"]]
    # When every route fails for the same reasons (where the person lives, their age...), say them
    # once rather than under each route.
    reason_lists = {tuple(item["reasons"]) for item in outcomes}
    shared = list(reason_lists.pop()) if len(reason_lists) == 1 and not eligible else []
    # Kept by each process for a frozen version (core.pages), one copy for each shape of result
    # (which routes fit, how many reasons each): the reasons (they may quote the answers) and the
    # booking link's reference are this person's, filled in at marks, never in the kept copy.
    fill: dict[str, str] = {}

    def marked(values: list[str]) -> list[str]:
        marks = [RESULT_MARK.format(len(fill) + n) for n in range(len(values))]
        fill.update(zip(marks, values, strict=True))
        return marks

    for item in outcomes:
        item["reasons"] = marked(item["reasons"])
    shared = marked(shared)
    reference = screening_reference(screening) if eligible else None
    if reference is not None:
        fill[REFERENCE_MARK] = quote(reference, safe="/")  # as the urlencode filter
    can_change = _session(request) is not None  # a screener that stopped early keeps its answers
    # The pathways' texts as this screening keeps them (a pathway edited since shows the old ones).
    shape = tuple(
        (item["name"], item["description"], item["bring"], item["eligible"], len(item["reasons"])) for item in outcomes
    )
    return render_shared(
        request,
        "eligibility/result.html",
        {
            "outcomes": outcomes,
            "eligible": eligible,
            "not_fitting": [item for item in outcomes if not item["eligible"]],
            "shared_reasons": shared,
            "can_change": can_change,
            "reference": REFERENCE_MARK if reference is not None else None,
        },
        key=(screening.version_id, stamp, shape, len(shared), can_change, reference is not None) if stamp else None,
        fill=fill,
    )
