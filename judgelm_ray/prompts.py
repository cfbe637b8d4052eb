"""JudgeLM judge prompts, byte-identical to baaivision/JudgeLM.

The strings below are copied verbatim from JudgeLM's `judgelm/llm_judge/common.py`
(`conv_judge_multi*`); a fine-tuned judge is only reliable on the exact prompt it was
trained on, so do not "tidy" them. The assembly (system + '\\n' + template + appendix)
and the N-answer rewrite follow `gen_model_judgement*.py`; what each judging mode puts in them
is in `judgelm_ray.modes`.
"""

SYSTEM = "You are a helpful and precise assistant for checking the quality of the answer."

INSTRUCTION = (
    "We would like to request your feedback on the performance of two AI assistants in response "
    "to the user question displayed above.\n"
    "Please rate the helpfulness, relevance, accuracy, level of details of their responses. Each "
    "assistant receives an overall score on a scale of 1 to 10, where a higher score indicates "
    "better overall performance.\n"
    "Please first output a single line containing only two values indicating the scores for "
    "Assistant 1 and 2, respectively. The two scores are separated by a space. In the subsequent "
    "line, please provide a comprehensive explanation of your evaluation, avoiding any potential "
    "bias and ensuring that the order in which the responses were presented does not affect your "
    "judgment."
)

MAX_ANSWERS = 19


def _answer_markers(answer_ids) -> tuple[str, ...]:
    """The lines that open and close each numbered answer block, as the templates below write them."""
    return tuple(
        marker
        for i in answer_ids
        for marker in (f"[The Start of Assistant {i}'s Answer]", f"[The End of Assistant {i}'s Answer]")
    )


# Each template declares its delimiters: the fixed lines that open or close one of its blocks. Row text
# (question, answers, reference) containing one could forge a block of the prompt; `judge.guard`
# looks for them (tests/judge/test_guard.py checks that every one occurs in its template's own bytes).
# Upstream's multi templates; with answer_more="" they are exactly the pair templates.
TEMPLATE = (
    "[Question]\n{question}\n\n"
    "[The Start of Assistant 1's Answer]\n{answer_1}\n\n[The End of Assistant 1's Answer]\n\n"
    "[The Start of Assistant 2's Answer]\n{answer_2}\n\n[The End of Assistant 2's Answer]\n\n"
    "{answer_more}[System]\n{prompt}\n\n"
)
TEMPLATE_DELIMITERS = ("[Question]", *_answer_markers((1, 2)), "[System]")
TEMPLATE_W_REFERENCE = (
    "[Question]\n{question}\n\n[Reference Answer]\n{reference}\n\n"
    "[The Start of Assistant 1's Answer]\n{answer_1}\n\n[The End of Assistant 1's Answer]\n\n"
    "[The Start of Assistant 2's Answer]\n{answer_2}\n\n[The End of Assistant 2's Answer]\n\n"
    "{answer_more}[System]\n{prompt}\n\n"
)
TEMPLATE_W_REFERENCE_DELIMITERS = ("[Question]", "[Reference Answer]", *_answer_markers((1, 2)), "[System]")
ANSWER_FORMAT = (
    "[The Start of Assistant {answer_id}'s Answer]\n{answer}\n\n"
    "[The End of Assistant {answer_id}'s Answer]\n\n"
)
ANSWER_FORMAT_DELIMITERS = _answer_markers(range(3, MAX_ANSWERS + 1))

APPENDIX = "### Response:"
APPENDIX_DELIMITERS = (APPENDIX,)
# Every template's delimiters, each once. All of them are looked for in every row whatever its mode:
# a pair judge trained on JudgeLM data also knows the reference block, a third answer's block, etc.
DELIMITERS = tuple(dict.fromkeys(
    TEMPLATE_DELIMITERS + TEMPLATE_W_REFERENCE_DELIMITERS + ANSWER_FORMAT_DELIMITERS + APPENDIX_DELIMITERS
))
# Single-answer grading pre-fills the judge's first score (the reference, shown as
# Assistant 1) with 10; the parser must prepend it to the generated text.
SINGLE_SCORE_PREFIX = "10"

_NUM_WORDS = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)


def _instruction(n_answers: int) -> str:
    """The instruction paragraph rewritten for n answers, as gen_model_judgement_multi.py does.

    Upstream runs these replacements over the whole assembled prompt, which would also rewrite
    matching user text; applying them to the instruction alone gives the same bytes otherwise.
    """
    if n_answers == 2:
        return INSTRUCTION
    word = _NUM_WORDS[n_answers - 1]
    ids = ", ".join(str(i) for i in range(1, n_answers))
    return (
        INSTRUCTION.replace("of two AI assistants", f"of {word} AI assistants")
        .replace("only two values indicating ", f"only {word} values indicating ")
        .replace("for Assistant 1 and 2", f"for Assistant {ids} and {n_answers}")
        .replace("The two scores are", f"The {word} scores are")
    )


def assemble(
    question: str, answers: list[str], reference: str | None, use_reference: bool, appendix: str = APPENDIX
) -> str:
    """System line + template for 2..MAX_ANSWERS answers (+ the [Reference Answer] block) + appendix.

    The modes (`judgelm_ray.modes`) decide which answers, reference and appendix a request shows.
    """
    # Answers 3..N go right before "[System]", built directly rather than found in the text.
    answer_more = "".join(
        ANSWER_FORMAT.format(answer_id=i, answer=answer) for i, answer in enumerate(answers[2:], 3)
    )
    fields = dict(
        question=question,
        answer_1=answers[0],
        answer_2=answers[1],
        answer_more=answer_more,
        prompt=_instruction(len(answers)),
    )
    if use_reference:
        body = TEMPLATE_W_REFERENCE.format(reference=reference, **fields)
    else:
        body = TEMPLATE.format(**fields)
    return SYSTEM + "\n" + body + appendix
