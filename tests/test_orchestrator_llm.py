"""The language-model side: the httpx client and the graph against a fake OpenAI-compatible server.

The fake server is real HTTP on 127.0.0.1 (a random free port, a thread per request). It answers
`GET /v1/models` and `POST /v1/chat/completions`, picking its scripted reply by the name of the
JSON schema in `response_format` (Understanding, Transcription, Explanation), so each test says
what the "model" does for each kind of call: valid JSON, malformed JSON, an HTTP error, or a
sleep past the client's timeout.
"""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import BaseModel

from orchestrator import LLMClient, LLMError, Orchestrator, Settings
from orchestrator.facts import SolveFacts
from orchestrator.language import Understanding
from reasoner.tasks import SudokuTask
from verifiers import sudoku as rules

PUZZLE4 = "1..4.4....2..3.."
SOLUTION4 = rules.analyse_puzzle(SudokuTask(2, 2).parse(PUZZLE4), 2, 2).solution
TIMEOUT = 0.5  # the client's read timeout in these tests; "sleep" replies last longer


class Raw:
    """Send this text as the message content, as is (e.g. malformed JSON)."""

    def __init__(self, text):
        self.text = text


class Sleep:
    def __init__(self, seconds):
        self.seconds = seconds


class Status:
    def __init__(self, code):
        self.code = code


class FakeOpenAI:
    def __init__(self):
        self.routes: dict = {}  # schema name -> dict (JSON reply) | Raw | Sleep | Status
        self.requests: list[dict] = []
        self.models = ["fake-hrm-chat"]
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, code, payload: bytes):
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def do_GET(self):
                if self.path == "/v1/models":
                    self._send(200, json.dumps({"object": "list", "data": [{"id": m, "object": "model"} for m in fake.models]}).encode())
                else:
                    self._send(404, b'{"error": "not found"}')

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                name = body["response_format"]["json_schema"]["name"]
                route = fake.routes.get(name, Status(500))
                if isinstance(route, Sleep):
                    time.sleep(route.seconds)
                    route = fake.routes.get(name + ":after", {"intent": "other", "task": "none"})
                if isinstance(route, Status):
                    self._send(route.code, b'{"error": "scripted failure"}')
                    return
                content = route.text if isinstance(route, Raw) else json.dumps(route)
                reply = {"id": "x", "object": "chat.completion", "model": body["model"],
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": content}}]}
                self._send(200, json.dumps(reply).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def names(self):
        return [r["response_format"]["json_schema"]["name"] for r in self.requests]


@pytest.fixture
def fake():
    server = FakeOpenAI()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def make_orch(fake, tmp_path):
    made = []

    def make(**kw):
        o = Orchestrator(Settings(llm_url=fake.url, llm_timeout=TIMEOUT, trace_path=tmp_path / "t.jsonl", **kw))
        made.append(o)
        return o

    yield make
    for o in made:
        o.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the client ---------------------------------------------------------------------------------


class Pair(BaseModel):
    a: int
    b: str


def test_client_sends_a_json_schema_and_validates_the_reply(fake):
    fake.routes["Pair"] = {"a": 3, "b": "x"}
    client = LLMClient(fake.url, timeout=TIMEOUT)
    assert client.available() and client.model == "fake-hrm-chat"  # learned from /v1/models
    got = client.chat_json([{"role": "user", "content": "hi"}], Pair)
    assert got == Pair(a=3, b="x")
    body = fake.requests[-1]
    assert body["model"] == "fake-hrm-chat" and body["messages"][0]["content"] == "hi"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == Pair.model_json_schema()
    client.close()


def test_the_schema_is_described_in_the_system_message(fake):
    # vLLM enforces the schema while decoding but does not show it to the model: the client puts
    # it (field descriptions included) into the system message, without changing the caller's list.
    fake.routes["Understanding"] = {"intent": "hint", "task": "sudoku"}
    client = LLMClient(fake.url, model="m", timeout=TIMEOUT)
    messages = [{"role": "system", "content": "Classify."}, {"role": "user", "content": "a hint please"}]
    assert client.chat_json(messages, Understanding) == Understanding(intent="hint", task="sudoku")
    sent = fake.requests[-1]["messages"]
    assert sent[0]["role"] == "system" and sent[0]["content"].startswith("Classify.\n\n")
    assert json.dumps(Understanding.model_json_schema(), separators=(",", ":")) in sent[0]["content"]
    assert sent[1] == messages[1] and messages[0]["content"] == "Classify."
    plain = LLMClient(fake.url, model="m", timeout=TIMEOUT, schema_in_prompt=False)
    plain.chat_json(messages, Understanding)
    assert fake.requests[-1]["messages"] == messages
    client.close()
    plain.close()


@pytest.mark.parametrize("route, kind", [
    (Raw("{not json"), "malformed"),
    (Raw('```json\n{"a": "three", "b": "x"}\n```'), "invalid"),  # fenced JSON is read, then validated
    ({"a": 1}, "invalid"),
    (Status(500), "http"),
    (Sleep(1.0), "timeout"),
])
def test_client_turns_every_failure_into_an_llm_error(fake, route, kind):
    fake.routes["Pair"] = route
    client = LLMClient(fake.url, model="m", timeout=TIMEOUT)
    start = time.perf_counter()
    with pytest.raises(LLMError) as err:
        client.chat_json([{"role": "user", "content": "hi"}], Pair)
    assert err.value.kind == kind
    assert time.perf_counter() - start < 0.95  # a timeout does not wait for the slow server
    client.close()


def test_client_without_a_server_is_unavailable_quickly():
    client = LLMClient(f"http://127.0.0.1:{free_port()}/v1", timeout=TIMEOUT)
    start = time.perf_counter()
    assert not client.available()
    with pytest.raises(LLMError) as err:
        client.chat_json([{"role": "user", "content": "hi"}], Pair)
    assert err.value.kind == "unreachable" and time.perf_counter() - start < 2
    client.close()


# -- the graph with a model ---------------------------------------------------------------------


def test_the_model_classifies_intents_the_rules_do_not_know(fake, make_orch):
    fake.routes["Understanding"] = {"intent": "generate", "task": "sudoku"}
    fake.routes["Explanation"] = {"text": "unused"}
    reply = make_orch(seed=1).ask("I'd fancy a fresh 4x4 challenge", "t")
    assert reply.language == "model" and reply.intent == "generate" and reply.ok
    assert len(reply.grid) == 4 and reply.answer is None
    assert fake.names()[0] == "Understanding"
    assert "rule-based" not in reply.text


def test_the_model_words_the_explanation_from_the_verifier_facts(fake, make_orch):
    fake.routes["Understanding"] = {"intent": "solve", "task": "sudoku"}
    fake.routes["Explanation"] = {"text": "The HRM solved it and the verifier accepted every row, column and box."}
    reply = make_orch().ask(f"please {PUZZLE4}", "t")
    assert reply.verified and reply.answer == SOLUTION4
    assert "The HRM solved it and the verifier accepted every row" in reply.text
    # the model was shown the verifier's facts, nothing else
    explain = next(r for r in fake.requests if r["response_format"]["json_schema"]["name"] == "Explanation")
    facts = SolveFacts.model_validate_json(explain["messages"][1]["content"])
    assert facts.verified and facts.status == "solved"


def test_an_explanation_with_false_claims_is_replaced_by_the_template(fake, make_orch):
    fake.routes["Understanding"] = {"intent": "solve", "task": "sudoku"}
    fake.routes["Explanation"] = {"text": "Row 1 is 4321 and I am 97% sure, trust me."}
    reply = make_orch().ask(f"solve {PUZZLE4}", "t")
    assert reply.verified and "4321" not in reply.text and "97%" not in reply.text
    assert "The verifier checked the answer" in reply.text  # the template
    assert "said things the verifier's facts do not support" in reply.text


@pytest.mark.parametrize("route, said", [
    (Raw("intent: solve!"), "not valid JSON"),
    ({"intent": "conquer", "task": "sudoku"}, "does not fit Understanding"),
    (Sleep(1.0), "did not answer within"),
    (Status(503), "HTTP 503"),
])
def test_model_failures_fall_back_to_rules_with_a_note(fake, make_orch, route, said):
    fake.routes["Understanding"] = route
    fake.routes["Explanation"] = Raw("")
    reply = make_orch().ask(f"solve {PUZZLE4}", "t")
    assert reply.verified and reply.answer == SOLUTION4 and reply.intent == "solve"  # the rules did it
    assert said in reply.text and "used the built-in rules" in reply.text
    assert "The verifier checked the answer" in reply.text  # template explanation after the empty reply


def test_after_a_timeout_the_turn_goes_on_without_the_model(fake, make_orch):
    fake.routes["Understanding"] = Sleep(1.0)
    fake.routes["Explanation"] = {"text": "never asked"}
    reply = make_orch().ask(f"solve {PUZZLE4}", "t")
    assert reply.verified and "never asked" not in reply.text
    assert fake.names() == ["Understanding"]  # one timeout per turn, not one per step
    assert reply.text.count("did not answer within") == 1


# Code reads rows written with labels, blanks and digit words; the model is asked only for
# descriptions like this one, which name no cell by position.
DESCRIBED = ("solve this 4x4: the top row starts with 1 and ends with 4, the second row has a 4 in second place, "
             "the third row a 2 in third place and the bottom row a 3 in second place")


def test_a_grid_described_in_words_is_transcribed_and_checked(fake, make_orch):
    fake.routes["Understanding"] = {"intent": "solve", "task": "sudoku"}
    fake.routes["Transcription"] = {"size": 4, "rows": ["1..4", ".4..", "..2.", ".3.."]}
    fake.routes["Explanation"] = {"text": "Verified."}
    reply = make_orch().ask(DESCRIBED, "t")
    assert reply.verified and reply.answer == SOLUTION4
    assert "with the language model's help" in reply.text and "The puzzle as I read it" in reply.text


@pytest.mark.parametrize("rows, said", [
    ([".1.4", ".4..", "..2.", ".3.."], None),  # the 1 moved: same digits in the same order, not caught by order
    (["1..4", ".4..", "....", ".3.."], "drops 2"),  # the 2 dropped
    (["1..4", ".4..", "..2.", ".3.1"], "adds 1"),  # a 1 invented
    (["1..4", ".4..", ".3..", "..2."], "drops 3"),  # 2 and 3 swapped
])
def test_a_transcription_must_be_the_users_digits_in_order(fake, make_orch, rows, said):
    fake.routes["Understanding"] = {"intent": "solve", "task": "sudoku"}
    fake.routes["Transcription"] = {"size": 4, "rows": rows}
    fake.routes["Explanation"] = {"text": "Verified."}
    reply = make_orch().ask(DESCRIBED, "t")
    if said is None:  # the order is all a description without positions gives; the grid is shown to be checked
        assert "The puzzle as I read it" in reply.text
        return
    assert not reply.ok and reply.answer is None and reply.grid is None
    assert "not the grid you wrote" in reply.text and said in reply.text


def test_a_moved_given_is_refused_when_every_cell_was_written(fake, make_orch):
    # Every cell written (blanks as "blank"), in a form code does not read: compared by position.
    message = ("please solve it, reading left to right and top to bottom the cells go "
               "1 blank blank 4 then blank 4 blank blank then blank blank 2 blank then blank 3 blank blank")
    fake.routes["Understanding"] = {"intent": "solve", "task": "sudoku"}
    fake.routes["Transcription"] = {"size": 4, "rows": ["1..4", "4...", "..2.", ".3.."]}
    reply = make_orch().ask(message, "t")
    assert not reply.ok and reply.answer is None
    assert "r2c1 is 4 but you wrote a blank" in reply.text and "r2c2 is a blank but you wrote 4" in reply.text


def test_an_unreachable_model_means_rules_and_one_notice_per_thread(tmp_path):
    o = Orchestrator(Settings(llm_url=f"http://127.0.0.1:{free_port()}/v1", llm_timeout=TIMEOUT,
                              trace_path=tmp_path / "t.jsonl"))
    first = o.ask(f"solve {PUZZLE4}", "a")
    assert first.language == "rules" and first.verified and "No language model answers at" in first.text
    second = o.ask("what is in row 1?", "a")
    assert second.ok and "No language model" not in second.text
    other = o.ask("what is in row 1?", "b")
    assert "No language model answers at" in other.text  # a new thread is told once too
    o.close()


def test_model_calls_are_traced(fake, make_orch, tmp_path):
    fake.routes["Understanding"] = {"intent": "solve", "task": "sudoku"}
    fake.routes["Explanation"] = Raw("{broken")
    reply = make_orch().ask(f"solve {PUZZLE4}", "trace")
    record = json.loads((tmp_path / "t.jsonl").read_text().splitlines()[-1])
    assert record["request_id"] == reply.trace_id and record["language"] == "model"
    calls = record["model_calls"]
    assert [c["purpose"] for c in calls] == ["intent classification", "explanation"]
    assert calls[0]["ok"] and not calls[1]["ok"] and calls[1]["error"].startswith("malformed")
    assert calls[0]["model"] == "fake-hrm-chat"


def test_the_rules_keywords_win_and_the_model_cannot_invent_a_puzzle_request(fake, make_orch):
    # Measured (docs/llm.md): the 0.5B model calls most messages "solve". A keyword the user wrote
    # decides; the model's intent counts only where the rules found none, and a puzzle intent
    # needs a puzzle in the message or the thread.
    fake.routes["Understanding"] = {"intent": "solve", "task": "arc"}
    o = make_orch()
    hello = o.ask("hello!", "t")
    assert hello.intent == "other" and hello.answer is None
    fake.routes["Understanding"] = {"intent": "generate", "task": "arc"}
    hint = o.ask(f"a hint for this sudoku please: {PUZZLE4}", "t2")
    assert hint.intent == "hint" and hint.task == "sudoku"


# -- a lying model: every claim is checked, the template is shown instead ---------------------------


def last_trace(tmp_path):
    return json.loads((tmp_path / "t.jsonl").read_text().splitlines()[-1])


def test_a_lying_solve_explanation_is_replaced_and_traced(fake, make_orch, tmp_path):
    lie = "Row 1, column 1 holds 9 and row 1 is 1 4 2 4, so the HRM found it on its own."
    fake.routes["Understanding"] = {"intent": "solve", "task": "sudoku"}
    fake.routes["Explanation"] = {"text": lie}
    reply = make_orch().ask(f"solve {PUZZLE4}", "t")
    assert reply.verified and reply.answer == SOLUTION4  # the verified answer is still shown
    assert "holds 9" not in reply.text and "1 4 2 4" not in reply.text
    assert "The verifier checked the answer" in reply.text and "do not support" in reply.text
    call = last_trace(tmp_path)["model_calls"][-1]
    assert call["purpose"] == "explanation" and not call["ok"] and lie in call["raw"]
    assert any("r1c1 is 1, not 9" in c for c in call["failed_claims"])
    assert any("row 1 is not 1 4 2 4" in c for c in call["failed_claims"])


@pytest.mark.parametrize("lie", [
    "r1c2 must be 3: it is the only digit left.",  # a false cell
    "r1c2 must be 2: it is the only place for 2 in row 1.",  # a wrong reason (r1c3 also allows 2)
    "r1c2 must be 2 because row 1 already has 1, 3 and 4.",  # a fake row
    "The number 2 is in the box 1,3,4 and not in the row 1,4.",  # the hint: no cell, digit soup
    "r1c2 is 2, and r2c1 is 3.",  # a second cell of the solution: a hint reveals one
])
def test_a_lying_hint_is_replaced_by_the_template(fake, make_orch, lie):
    fake.routes["Understanding"] = {"intent": "hint", "task": "sudoku"}
    fake.routes["Explanation"] = {"text": lie}
    reply = make_orch().ask(f"a hint for this sudoku please: {PUZZLE4}", "t")
    assert reply.intent == "hint" and reply.hint.row == 1 and reply.hint.col == 2 and reply.answer is None
    assert lie not in reply.text and "Hint: row 1, column 2 must be 2." in reply.text


def test_a_truthful_hint_in_the_models_words_is_shown(fake, make_orch):
    words = "Look at r1c2: its row already has 1 and 4 and its column has 3 and 4, so 2 is the only digit left."
    fake.routes["Understanding"] = {"intent": "hint", "task": "sudoku"}
    fake.routes["Explanation"] = {"text": words}
    reply = make_orch().ask(f"a hint for this sudoku please: {PUZZLE4}", "t")
    assert words in reply.text and "Hint: row 1" not in reply.text


def test_explaining_how_to_solve_shows_checked_steps_not_the_answer(fake, make_orch):
    fake.routes["Understanding"] = {"intent": "solve", "task": "sudoku"}
    fake.routes["Explanation"] = {"text": "Step 1: r1c2 = 3. Step 2: r4c4 = 1."}
    o = make_orch()
    reply = o.ask(f"explain how to solve this sudoku: {PUZZLE4}", "t")
    assert reply.intent == "explain" and reply.ok and reply.answer is None
    assert "steps 1-5 of 11" in reply.text and "Step 1: r1c2 = 2 (naked single" in reply.text
    assert "r1c2 = 3" not in reply.text and "1 2 3 4" not in reply.text  # no lie, no solved grid
    fake.routes["Explanation"] = {"text": "Step 6: r3c1 = 4, the only digit left."}
    more = o.ask("next steps", "t")
    assert "steps 6-10 of 11" in more.text and "Step 6: r3c1 = 4, the only digit left." in more.text


def test_give_me_a_hard_one_is_a_sudoku_even_when_the_model_says_arc(fake, make_orch):
    fake.routes["Understanding"] = {"intent": "generate", "task": "arc"}
    reply = make_orch(seed=1).ask("give me a hard one", "t")
    assert reply.intent == "generate" and reply.task == "sudoku" and reply.ok and "ARC" not in reply.text


def test_thanks_stays_small_talk_even_with_a_puzzle_in_the_thread(fake, make_orch):
    o = make_orch()
    fake.routes["Understanding"] = {"intent": "solve", "task": "sudoku"}
    fake.routes["Explanation"] = {"text": "Verified."}
    o.ask(f"solve {PUZZLE4}", "t")
    thanks = o.ask("thanks, that's all", "t")
    assert thanks.intent == "other" and thanks.answer is None
    fake.routes["Understanding"] = {"intent": "hint", "task": "sudoku"}
    nudge = o.ask("could you reveal a single square for me?", "t")  # no keyword: the model decides
    assert nudge.intent == "hint" and nudge.hint is not None


def test_the_model_decides_only_intents_the_message_gives_a_cue_for(fake, make_orch):
    o = make_orch(seed=1)
    fake.routes["Understanding"] = {"intent": "generate", "task": "sudoku"}
    poem = o.ask("write me a poem about sudoku", "t")  # no cue for generating: stays other
    assert poem.intent == "other" and poem.grid is None
    round_ = o.ask("let's play another round", "t")  # "another round": the model's generate counts
    assert round_.intent == "generate" and round_.ok and len(round_.grid) == 9


def test_a_lying_check_explanation_is_replaced(fake, make_orch):
    # The check explanation invented cells: "column 7 has 9 twice at (4,7), (8,7)".
    o = make_orch()
    fake.routes["Understanding"] = {"intent": "solve", "task": "sudoku"}
    fake.routes["Explanation"] = {"text": "Verified."}
    o.ask(f"solve {PUZZLE4}", "t")
    wrong = [row[:] for row in SOLUTION4]
    wrong[2][0], wrong[2][1] = wrong[2][1], wrong[2][0]
    fake.routes["Understanding"] = {"intent": "check", "task": "sudoku"}
    fake.routes["Explanation"] = {"text": "Column 4 has 3 twice at (4,4), (2,4)."}
    reply = o.ask("check my answer: " + "".join(str(v) for r in wrong for v in r), "t")
    assert reply.intent == "check" and not reply.check.ok
    assert "twice at (4,4)" not in reply.text and "r3c1" in reply.text and "do not support" in reply.text
