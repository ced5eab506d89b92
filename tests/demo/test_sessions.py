"""The demo bot's sessions and tokens: what it accepts and what it refuses."""

from __future__ import annotations

from wslocust.demo.sessions import (
    SessionSettings,
    main,
    make_token,
    prompt_refusal,
    request_token,
    token_problem,
    welcome,
)

NOW = 1_000_000.0


def test_a_token_is_good_until_its_exp_and_refused_after_or_with_another_secret() -> None:
    token = make_token("k", 60.0, now=NOW)
    assert token_problem(token, "k", now=NOW + 59.0) is None
    assert token_problem(token, "k", now=NOW + 60.0) == "expired token"
    assert token_problem(token, "other", now=NOW) == "invalid token"
    assert token_problem(None, "k") == "missing token"


def test_the_handshakes_token_is_read_from_the_bearer_header_else_the_query() -> None:
    assert request_token("/chat", "Bearer abc") == "abc"
    assert request_token("/chat?token=xyz&a=1", None) == "xyz"
    assert request_token("/chat", None) is None


def test_session_mode_welcomes_with_an_id_and_refuses_prompts_without_it() -> None:
    settings = SessionSettings(session_mode=True)
    session_id, greeting = welcome(settings)
    assert greeting == {"type": "welcome", "session_id": session_id}
    assert prompt_refusal(settings, {"text": "hi", "session_id": session_id}, session_id) is None
    assert prompt_refusal(settings, {"text": "hi"}, session_id) == "unknown or missing session_id"
    assert welcome(SessionSettings()) == (None, None)


def test_a_prompts_token_field_is_checked_when_tokens_are_required() -> None:
    settings = SessionSettings(token_secret="k")
    assert prompt_refusal(settings, {"text": "hi", "token": make_token("k", 60.0)}, None) is None
    assert prompt_refusal(settings, {"text": "hi", "token": "forged"}, None) == "invalid token"


def test_the_token_script_prints_a_token_the_bot_accepts(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--secret", "k", "--ttl", "30"]) == 0
    assert token_problem(capsys.readouterr().out.strip(), "k") is None
