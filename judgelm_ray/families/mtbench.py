"""FastChat llm_judge's MT-bench judges (`judge.template: mtbench`): GPT-4's official judge prompts.

The eight prompts below are byte-identical to lm-sys/FastChat `fastchat/llm_judge/data/judge_prompts.jsonl`
(tests/families/test_mtbench.py compares them with the file). They are assembled and read as
`fastchat/llm_judge/common.py` does for GPT-4 (`run_judge_pair`, `run_judge_single`):
- the prompt is chat messages: the judge's system_prompt as the system message, then one user
  message, `prompt_template.format(**fields)` (str.format, so braces in row text are kept as they are);
- which template: pair-* in pairwise mode, single-* in single mode; the math variant (reference
  answers shown) where the row's reference is shown (`judge.reference`; FastChat shows GPT-4's
  reference answers for its math, reasoning and coding questions); the multi-turn variant for a
  dialogue row;
- the multi-turn templates hold exactly two turns: question_1 is the earlier user turn, question_2
  the row's question; answer_x_1 is that answer's own assistant turn (`answer_turns`) or else the
  shared one in `turns`, answer_x_2 the answer; ref_answer_1/ref_answer_2 likewise from
  `reference_turns` and `reference`. A row with another dialogue shape is refused by `check`;
- pairwise verdict: "[[A]]" anywhere in the text -> "1", else "[[B]]" -> "2", else "[[C]]" -> "tie",
  checked in FastChat's order (so a text holding both [[A]] and [[B]] is read as A); none -> a parse
  failure (FastChat's winner "error"), never a tie;
- single rating: the first `[[x]]`, else the first `[x]` (FastChat's one_score_pattern and its
  backup) -> scores=[x]; none -> a parse failure (FastChat's rating -1). FastChat does not check the
  1-10 range and neither does this; a number too long to be finite fails.
The verdict comes after the explanation, so `judge.fast` cannot stop early (FAST = False).
"""

from __future__ import annotations

import math
import re

from judgelm_ray import verdicts
from judgelm_ray.inputs.canonical import has_reference

MODES = ("pairwise", "single")
FAST = False  # the verdict ends the explanation
CHAT = True  # system + user messages

# ---------------------------------------------------------------- FastChat's judge_prompts.jsonl, verbatim

PAIR_V2_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI "
    "assistants to the user question displayed below. You should choose the assistant that follows the "
    "user's instructions and answers the user's question better. Your evaluation should consider factors "
    "such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of their "
    "responses. Begin your evaluation by comparing the two responses and provide a short explanation. "
    "Avoid any position biases and ensure that the order in which the responses were presented does not "
    "influence your decision. Do not allow the length of the responses to influence your evaluation. Do "
    "not favor certain names of the assistants. Be as objective as possible. After providing your "
    "explanation, output your final verdict by strictly following this format: \"[[A]]\" if assistant A is "
    "better, \"[[B]]\" if assistant B is better, and \"[[C]]\" for a tie."
)
PAIR_V2_TEMPLATE = (
    "[User Question]\n{question}\n\n"
    "[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]"
)

PAIR_V2_MULTI_TURN_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI "
    "assistants to the user questions. You should choose the assistant that follows the user's "
    "instructions and answers the user's questions better. Your evaluation should consider factors such "
    "as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of their responses. "
    "You should focus on who provides a better answer to the second user question. Begin your evaluation "
    "by comparing the responses of the two assistants and provide a short explanation. Avoid any "
    "position biases and ensure that the order in which the responses were presented does not influence "
    "your decision. Do not allow the length of the responses to influence your evaluation. Do not favor "
    "certain names of the assistants. Be as objective as possible. After providing your explanation, "
    "output your final verdict by strictly following this format: \"[[A]]\" if assistant A is better, "
    "\"[[B]]\" if assistant B is better, and \"[[C]]\" for a tie."
)
PAIR_V2_MULTI_TURN_TEMPLATE = (
    "<|The Start of Assistant A's Conversation with User|>\n\n"
    "### User:\n{question_1}\n\n"
    "### Assistant A:\n{answer_a_1}\n\n"
    "### User:\n{question_2}\n\n"
    "### Assistant A:\n{answer_a_2}\n\n"
    "<|The End of Assistant A's Conversation with User|>\n\n"
    "\n"
    "<|The Start of Assistant B's Conversation with User|>\n\n"
    "### User:\n{question_1}\n\n"
    "### Assistant B:\n{answer_b_1}\n\n"
    "### User:\n{question_2}\n\n"
    "### Assistant B:\n{answer_b_2}\n\n"
    "<|The End of Assistant B's Conversation with User|>"
)

PAIR_MATH_V1_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI "
    "assistants to the user question displayed below. Your evaluation should consider correctness and "
    "helpfulness. You will be given a reference answer, assistant A's answer, and assistant B's answer. "
    "Your job is to evaluate which assistant's answer is better. Begin your evaluation by comparing both "
    "assistants' answers with the reference answer. Identify and correct any mistakes. Avoid any "
    "position biases and ensure that the order in which the responses were presented does not influence "
    "your decision. Do not allow the length of the responses to influence your evaluation. Do not favor "
    "certain names of the assistants. Be as objective as possible. After providing your explanation, "
    "output your final verdict by strictly following this format: \"[[A]]\" if assistant A is better, "
    "\"[[B]]\" if assistant B is better, and \"[[C]]\" for a tie."
)
PAIR_MATH_V1_TEMPLATE = (
    "[User Question]\n{question}\n\n"
    "[The Start of Reference Answer]\n{ref_answer_1}\n[The End of Reference Answer]\n\n"
    "[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]"
)

PAIR_MATH_V1_MULTI_TURN_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI "
    "assistants to the user questions. Your evaluation should consider correctness and helpfulness. You "
    "will be given reference answers, the assistant A's answers, the assistant B's answers. Your job is "
    "to determine which assistant provides correct and helpful answers to the second user question. "
    "Begin your evaluation by comparing both assistants' answers with the reference answers. Identify "
    "and correct any mistakes. Avoid any position biases and ensure that the order in which the "
    "responses were presented does not influence your decision. Do not allow the length of the responses "
    "to influence your evaluation. Do not favor certain names of the assistants. Be as objective as "
    "possible. After providing your explanation, output your final verdict by strictly following this "
    "format: \"[[A]]\" if assistant A is better, \"[[B]]\" if assistant B is better, and \"[[C]]\" for a tie."
)
PAIR_MATH_V1_MULTI_TURN_TEMPLATE = (
    "<|The Start of Reference Answer|>\n\n"
    "### User:\n{question_1}\n\n"
    "### Reference answer:\n{ref_answer_1}\n\n"
    "### User:\n{question_2}\n\n"
    "### Reference answer:\n{ref_answer_2}\n\n"
    "<|The End of Reference Answer|>\n\n"
    "\n"
    "<|The Start of Assistant A's Conversation with User|>\n\n"
    "### User:\n{question_1}\n\n"
    "### Assistant A:\n{answer_a_1}\n\n"
    "### User:\n{question_2}\n\n"
    "### Assistant A:\n{answer_a_2}\n\n"
    "<|The End of Assistant A's Conversation with User|>\n\n"
    "\n"
    "<|The Start of Assistant B's Conversation with User|>\n\n"
    "### User:\n{question_1}\n\n"
    "### Assistant B:\n{answer_b_1}\n\n"
    "### User:\n{question_2}\n\n"
    "### Assistant B:\n{answer_b_2}\n\n"
    "<|The End of Assistant B's Conversation with User|>"
)

SINGLE_V1_SYSTEM = "You are a helpful assistant."
SINGLE_V1_TEMPLATE = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by "
    "an AI assistant to the user question displayed below. Your evaluation should consider factors such "
    "as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. "
    "Begin your evaluation by providing a short explanation. Be as objective as possible. After "
    "providing your explanation, you must rate the response on a scale of 1 to 10 by strictly following "
    "this format: \"[[rating]]\", for example: \"Rating: [[5]]\".\n\n"
    "[Question]\n{question}\n\n"
    "[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"
)

SINGLE_MATH_V1_SYSTEM = "You are a helpful assistant."
SINGLE_MATH_V1_TEMPLATE = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by "
    "an AI assistant to the user question displayed below. Your evaluation should consider correctness "
    "and helpfulness. You will be given a reference answer and the assistant's answer. Begin your "
    "evaluation by comparing the assistant's answer with the reference answer. Identify and correct any "
    "mistakes. Be as objective as possible. After providing your explanation, you must rate the response "
    "on a scale of 1 to 10 by strictly following this format: \"[[rating]]\", for example: \"Rating: "
    "[[5]]\".\n\n"
    "[Question]\n{question}\n\n"
    "[The Start of Reference Answer]\n{ref_answer_1}\n[The End of Reference Answer]\n\n"
    "[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"
)

SINGLE_V1_MULTI_TURN_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Your evaluation should consider factors such as the "
    "helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. You "
    "evaluation should focus on the assistant's answer to the second user question. Begin your "
    "evaluation by providing a short explanation. Be as objective as possible. After providing your "
    "explanation, you must rate the response on a scale of 1 to 10 by strictly following this format: "
    "\"[[rating]]\", for example: \"Rating: [[5]]\".\n"
    "\n"
)
SINGLE_V1_MULTI_TURN_TEMPLATE = (
    "<|The Start of Assistant A's Conversation with User|>\n\n"
    "### User:\n{question_1}\n\n"
    "### Assistant A:\n{answer_1}\n\n"
    "### User:\n{question_2}\n\n"
    "### Assistant A:\n{answer_2}\n\n"
    "<|The End of Assistant A's Conversation with User|>"
)

SINGLE_MATH_V1_MULTI_TURN_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question. Your evaluation should consider correctness and helpfulness. You "
    "will be given a reference answer and the assistant's answer. You evaluation should focus on the "
    "assistant's answer to the second question. Begin your evaluation by comparing the assistant's "
    "answer with the reference answer. Identify and correct any mistakes. Be as objective as possible. "
    "After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly "
    "following this format: \"[[rating]]\", for example: \"Rating: [[5]]\".\n"
    "\n"
)
SINGLE_MATH_V1_MULTI_TURN_TEMPLATE = (
    "<|The Start of Reference Answer|>\n\n"
    "### User:\n{question_1}\n\n"
    "### Reference answer:\n{ref_answer_1}\n\n"
    "### User:\n{question_2}\n\n"
    "### Reference answer:\n{ref_answer_2}\n\n"
    "<|The End of Reference Answer|>\n\n"
    "\n"
    "<|The Start of Assistant A's Conversation with User|>\n\n"
    "### User:\n{question_1}\n\n"
    "### Assistant A:\n{answer_1}\n\n"
    "### User:\n{question_2}\n\n"
    "### Assistant A:\n{answer_2}\n\n"
    "<|The End of Assistant A's Conversation with User|>"
)

# FastChat's name of each prompt -> (system_prompt, prompt_template).
PROMPTS: dict[str, tuple[str, str]] = {
    "pair-v2": (PAIR_V2_SYSTEM, PAIR_V2_TEMPLATE),
    "pair-v2-multi-turn": (PAIR_V2_MULTI_TURN_SYSTEM, PAIR_V2_MULTI_TURN_TEMPLATE),
    "pair-math-v1": (PAIR_MATH_V1_SYSTEM, PAIR_MATH_V1_TEMPLATE),
    "pair-math-v1-multi-turn": (PAIR_MATH_V1_MULTI_TURN_SYSTEM, PAIR_MATH_V1_MULTI_TURN_TEMPLATE),
    "single-v1": (SINGLE_V1_SYSTEM, SINGLE_V1_TEMPLATE),
    "single-math-v1": (SINGLE_MATH_V1_SYSTEM, SINGLE_MATH_V1_TEMPLATE),
    "single-v1-multi-turn": (SINGLE_V1_MULTI_TURN_SYSTEM, SINGLE_V1_MULTI_TURN_TEMPLATE),
    "single-math-v1-multi-turn": (SINGLE_MATH_V1_MULTI_TURN_SYSTEM, SINGLE_MATH_V1_MULTI_TURN_TEMPLATE),
}

# The fixed lines of these templates that row text could forge (`judge.guard`); each one is a whole
# line of some template above (tests/families/test_mtbench.py checks it).
DELIMITERS = (
    "[User Question]",
    "[Question]",
    "[Instruction]",
    *(f"[The {edge} of {who} Answer]"
      for who in ("Assistant A's", "Assistant B's", "Assistant's", "Reference") for edge in ("Start", "End")),
    *(f"<|The {edge} of {what}|>"
      for what in ("Assistant A's Conversation with User", "Assistant B's Conversation with User", "Reference Answer")
      for edge in ("Start", "End")),
    "### User:",
    "### Assistant A:",
    "### Assistant B:",
    "### Reference answer:",
)

# FastChat's verdict tokens, checked in its order (run_judge_pair).
_PAIR_VERDICTS = (("[[A]]", "1"), ("[[B]]", "2"), ("[[C]]", "tie"))
# FastChat's one_score_pattern and one_score_pattern_backup (run_judge_single).
ONE_SCORE = re.compile(r"\[\[(\d+\.?\d*)\]\]")
ONE_SCORE_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")
_QUOTE_LIMIT = 80


class _Unfit(ValueError):
    """A row the templates cannot show: `check` returns it as the reason, `prompt` raises it."""

    def __init__(self, field: str, what: str) -> None:
        super().__init__(f"field '{field}': {what}")


def _check_mode(mode: str) -> None:
    # A mode without prompts is a configuration mistake every row shares: raised, not a row's reason.
    if mode not in MODES:
        raise ValueError(f"the mtbench judge has no {mode!r} mode; expected one of {MODES}")


def template_name(mode: str, use_reference: bool, multi_turn: bool) -> str:
    """FastChat's name of the prompt a request uses (make_judge_pairwise / make_judge_single)."""
    _check_mode(mode)
    kind = "pair" if mode == "pairwise" else "single"
    name = f"{kind}-math-v1" if use_reference else ("pair-v2" if kind == "pair" else "single-v1")
    return f"{name}-multi-turn" if multi_turn else name


def check(row: dict, mode: str, use_reference: bool) -> str | None:
    _check_mode(mode)
    try:
        _fields(row, mode, use_reference)
    except _Unfit as unfit:
        return f"{row['source']} row {row['row']}: {unfit}"
    return None


def prompt(row: dict, mode: str, use_reference: bool) -> list[dict]:
    """[system, user] messages as FastChat sends them to GPT-4 (conv.set_system_message(system_prompt),
    conv.append_message(user, prompt_template.format(**fields)))."""
    name, fields = _fields(row, mode, use_reference)
    system, template = PROMPTS[name]
    return [{"role": "system", "content": system}, {"role": "user", "content": template.format(**fields)}]


def _fields(row: dict, mode: str, use_reference: bool) -> tuple[str, dict[str, str]]:
    """The prompt's name and its template's fields (the keyword arguments FastChat formats it with)."""
    answers = row["answers"]
    wanted = 2 if mode == "pairwise" else 1
    if len(answers) != wanted:
        raise _Unfit("answers", f"{mode} mode shows {wanted} answer(s), got {len(answers)}")
    if use_reference and not has_reference(row):
        raise _Unfit("reference", "missing; the MT-bench math templates (pair-math-v1, single-math-v1) show a "
                                  "reference answer: give one, or set judge.reference to 'auto' or 'never'")
    earlier = _earlier_turns(row)
    name = template_name(mode, use_reference, earlier is not None)
    if earlier is None:
        fields = {"question": row["question"]}
        if mode == "pairwise":
            fields.update(answer_a=answers[0], answer_b=answers[1])
        else:
            fields["answer"] = answers[0]
        if use_reference:
            fields["ref_answer_1"] = row["reference"]
        return name, fields
    question_1, firsts = earlier
    fields = {"question_1": question_1, "question_2": row["question"]}
    if mode == "pairwise":
        fields.update(answer_a_1=firsts[0], answer_a_2=answers[0], answer_b_1=firsts[1], answer_b_2=answers[1])
    else:
        fields.update(answer_1=firsts[0], answer_2=answers[0])
    if use_reference:
        fields.update(ref_answer_1=_first_reference(row, question_1), ref_answer_2=row["reference"])
    return name, fields


def _earlier_turns(row: dict) -> tuple[str, list[str]] | None:
    """(question_1, each answer's answer to it) of a two-turn row; None for a single-turn row."""
    turns = row.get("turns") or []
    own = row.get("answer_turns") or [[] for _ in row["answers"]]
    if not turns and not any(own):
        return None
    question_1, firsts = None, []
    for i, extra in enumerate(own):
        earlier = [*turns, *(extra or [])]
        if [turn["role"] for turn in earlier] != ["user", "assistant"]:
            raise _Unfit("turns", f"answer {i + 1} has {_shape(earlier)} before the question; FastChat's multi-turn "
                                  "templates show two turns: one earlier user turn and its answer, then the "
                                  "question (judge other dialogues with judge.template 'judgelm')")
        if question_1 is not None and earlier[0]["content"] != question_1:
            raise _Unfit("answer_turns", "the answers follow different first user turns; FastChat's templates show "
                                         "one first question to both: compare answers to the same dialogue")
        question_1 = earlier[0]["content"]
        firsts.append(earlier[1]["content"])
    return question_1, firsts


def _first_reference(row: dict, question_1: str) -> str:
    """The reference's answer to the first user turn (FastChat's ref_answer_1 of a turn-2 judgment)."""
    earlier = [*(row.get("turns") or []), *(row.get("reference_turns") or [])]
    if [turn["role"] for turn in earlier] != ["user", "assistant"] or earlier[0]["content"] != question_1:
        raise _Unfit("reference_turns", f"the reference has {_shape(earlier)} before the question; the multi-turn "
                                        "math templates also show its answer to the first user turn: give "
                                        "reference_turns = [{'role': 'assistant', 'content': <that answer>}]")
    return earlier[1]["content"]


def _shape(turns: list[dict]) -> str:
    return f"{len(turns)} turn(s) ({', '.join(t['role'] for t in turns)})" if turns else "no turns"


# ---------------------------------------------------------------- reading the judge


def parse(text: str, mode: str, n_answers: int, policy: str) -> verdicts.ParsedJudgment:
    """FastChat's reading of a GPT-4 judgment. `policy` is ignored: FastChat has one parser per output
    format, and a stricter or looser one would make verdicts incomparable with MT-bench's."""
    _check_mode(mode)
    if not text.strip():
        return _fail("empty judge output")
    if mode == "pairwise":
        for token, verdict in _PAIR_VERDICTS:
            if token in text:
                return verdicts.ParsedJudgment(scores=None, error=None, verdict=verdict)
        return _fail(f"no [[A]], [[B]] or [[C]] verdict in judge output ending {_quote_end(text)}")
    match = ONE_SCORE.search(text) or ONE_SCORE_BACKUP.search(text)
    if match is None:
        return _fail(f"no [[rating]] in judge output ending {_quote_end(text)}")
    score = float(match.group(1))  # FastChat's ast.literal_eval of the same digits, without its crash on 4300+ digits
    if not math.isfinite(score):
        return _fail(f"rating {match.group(0)[:_QUOTE_LIMIT]!r} is not a finite number")
    return verdicts.ParsedJudgment(scores=[score], error=None)


def _fail(reason: str) -> verdicts.ParsedJudgment:
    return verdicts.ParsedJudgment(scores=None, error=reason)


def _quote_end(text: str) -> str:
    """The end of the text, where these judges put their verdict."""
    text = text.rstrip()
    return repr(text if len(text) <= _QUOTE_LIMIT else "..." + text[-(_QUOTE_LIMIT - 3):])
