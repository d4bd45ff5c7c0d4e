"""Drives a free Agora node with the official `openai` client through `n`, `logprobs` and the sampling controls,
plain and streamed, on both endpoints, and prints every answer as JSON for the Swift test to re-execute.

Usage: python3 openai_sampling_check.py BASE_URL BANNED_TOKEN BOOSTED_TOKEN
BANNED_TOKEN is the greedy answer's first token (the test bans it with logit_bias -100); BOOSTED_TOKEN is one
the test forces with +100.
"""
import json
import sys

import openai

question = [{"role": "user", "content": "What is the capital of France?"}]


def entries(logprobs):
    """`logprobs.content` as plain lists (chat, or Agora's `content` beside the legacy arrays)."""
    if logprobs is None:
        return None
    data = logprobs if isinstance(logprobs, dict) else logprobs.model_dump()
    return [{"bytes": e["bytes"], "logprob": e["logprob"],
             "top": [{"bytes": t["bytes"], "logprob": t["logprob"]} for t in e["top_logprobs"]]}
            for e in data["content"]]


def legacy(logprobs):
    """The legacy arrays, to check against `content`."""
    if logprobs is None:
        return None
    data = logprobs.model_dump()
    return {"tokens": data["tokens"], "token_logprobs": data["token_logprobs"], "text_offset": data["text_offset"],
            "top": data["top_logprobs"]}


cases = []


def run(name, chat, stream, **body):
    body = {"model": model, **body}
    if chat:
        body.setdefault("messages", question)
    create = client.chat.completions.create if chat else client.completions.create
    # The body as the node sees it: extra_body's fields sit beside the others.
    sent = {k: v for k, v in body.items() if k not in ("model", "extra_body")}
    sent.update(body.get("extra_body") or {})
    case = {"name": name, "chat": chat, "stream": stream, "body": json.dumps(sent)}
    if not stream:
        response = create(**body)
        dump = response.model_dump()
        case["receipt"] = dump["agora_receipt"]
        case["usage"] = [response.usage.prompt_tokens, response.usage.completion_tokens]
        case["choices"] = [{
            "index": c.index, "finish": c.finish_reason,
            "text": c.message.content if chat else c.text,
            "logprobs": entries(c.logprobs), "legacy": None if chat else legacy(c.logprobs),
        } for c in response.choices]
    else:
        choices = {}
        for chunk in create(stream=True, **body):
            dump = chunk.model_dump()
            if dump.get("agora_receipt"):
                case["receipt"] = dump["agora_receipt"]
                case["usage"] = [chunk.usage.prompt_tokens, chunk.usage.completion_tokens]
            for c in chunk.choices:
                entry = choices.setdefault(c.index, {"index": c.index, "finish": None, "text": "", "logprobs": None})
                piece = c.delta.content if chat else c.text
                entry["text"] += piece or ""
                if c.logprobs is not None:
                    entry["logprobs"] = (entry["logprobs"] or []) + entries(c.logprobs)
                entry["finish"] = c.finish_reason or entry["finish"]
        case["choices"] = [choices[i] for i in sorted(choices)]
    cases.append(case)


def main():
    global client, model
    base_url, banned, boosted = sys.argv[1], sys.argv[2], sys.argv[3]
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="unused", max_retries=0)
    model = client.models.list().data[0].id
    run_all(banned, boosted)
    print(json.dumps(cases))


def run_all(banned, boosted):
    run("chat, three sampled choices", True, False, n=3, max_tokens=12, temperature=0.9, seed=7)
    run("chat, two sampled choices, streamed", True, True, n=2, max_tokens=12, temperature=0.9, seed=7)
    run("chat, greedy with logprobs", True, False, max_tokens=8, temperature=0, logprobs=True, top_logprobs=3)
    run("chat, sampled logprobs, streamed", True, True, max_tokens=8, temperature=0.8, seed=5, logprobs=True,
        top_logprobs=2)
    run("chat, logprobs without alternatives", True, False, max_tokens=4, temperature=0, logprobs=True)
    run("chat, greedy, first token banned", True, False, max_tokens=8, temperature=0, logprobs=True,
        logit_bias={banned: -100})
    run("chat, greedy, a token forced", True, False, max_tokens=3, temperature=0, logprobs=True,
        logit_bias={boosted: 100})
    run("chat, every control, sampled", True, False, max_tokens=24, temperature=0.8, seed=3, presence_penalty=1.5,
        frequency_penalty=1.0, extra_body={"repetition_penalty": 1.3, "min_p": 0.1, "top_k": 40}, top_p=0.95)
    run("chat, every control, greedy, streamed", True, True, max_tokens=24, temperature=0, presence_penalty=2,
        frequency_penalty=2, extra_body={"repetition_penalty": 1.5})
    run("completion, two choices with logprobs", False, False, prompt="The capital of France is", max_tokens=6,
        n=2, logprobs=2, temperature=1.0, seed=11)
    run("completion, logprobs, streamed", False, True, prompt="Once upon a time", max_tokens=6, n=2, logprobs=1,
        temperature=0.7, seed=4)


if __name__ == "__main__":
    main()
