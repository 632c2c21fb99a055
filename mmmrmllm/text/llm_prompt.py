"""The LLM's default prompt: one definition for the model that reads it
(``LLMHead``) and for the text corpora written in its format (the
benchmark's tokenizer corpus)."""

IMAGE_TOKEN = '<image>'
# The default ``LLMHead.prompt_template``: visual tokens at ``<image>``,
# then the perception text and the question.
PROMPT_TEMPLATE = '<image>{perception}Question: {question} Answer:'
# The default ``LLMHead.answer_prefix``: put before the answer's text.
ANSWER_PREFIX = ' '


def text_sequence_template(prompt_template: str = PROMPT_TEMPLATE,
                           answer_prefix: str = ANSWER_PREFIX) -> str:
    """The whole text of a sequence as the LLM reads it, visual tokens
    left out: a format string with ``{perception}``, ``{question}`` and
    ``{answer}``.

    Args:
        prompt_template (str): With one ``<image>`` and ``{question}``.
        answer_prefix (str): Put before the answer.

    Returns:
        str: E.g. ``'{perception}Question: {question} Answer: {answer}'``
        for the defaults.
    """
    return (prompt_template.replace(IMAGE_TOKEN, '') + answer_prefix +
            '{answer}')
