"""Structured output through the official `openai` client against a free Agora node: `response_format`
`json_schema` (greedy and sampled, plain and streamed, with several choices), `json_object`, and the client's
own `parse()` helper with a pydantic model. Every answer must parse and validate against its schema
(`jsonschema`); the answers are printed as JSON for the Swift test to re-execute.

Usage: python3 openai_structured_check.py BASE_URL
"""
import json
import sys

import jsonschema
import openai
import pydantic

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from openai_sampling_check import entries  # noqa: E402

base_url = sys.argv[1]
client = openai.OpenAI(base_url=base_url + "/v1", api_key="unused", max_retries=0)
model = client.models.list().data[0].id
question = [{"role": "user", "content": "Describe a person as JSON: name, age, and hobbies."}]

person = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "hobbies": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "email": {"type": ["string", "null"]},
        "mood": {"enum": ["happy", "sad", "calm"]},
    },
    "required": ["name", "age", "mood"],
    "additionalProperties": False,
}
cases, problems = [], []


def run(name, stream, schema, **body):
    body = {"model": model, "messages": question, **body}
    sent = {k: v for k, v in body.items() if k != "model"}
    case = {"name": name, "chat": True, "stream": stream, "body": json.dumps(sent)}
    if not stream:
        response = client.chat.completions.create(**body)
        case["receipt"] = response.model_dump()["agora_receipt"]
        case["usage"] = [response.usage.prompt_tokens, response.usage.completion_tokens]
        case["choices"] = [{"index": c.index, "finish": c.finish_reason, "text": c.message.content,
                            "logprobs": entries(c.logprobs), "legacy": None} for c in response.choices]
    else:
        choices = {}
        for chunk in client.chat.completions.create(stream=True, **body):
            dump = chunk.model_dump()
            if dump.get("agora_receipt"):
                case["receipt"] = dump["agora_receipt"]
                case["usage"] = [chunk.usage.prompt_tokens, chunk.usage.completion_tokens]
            for c in chunk.choices:
                entry = choices.setdefault(c.index, {"index": c.index, "finish": None, "text": "", "logprobs": None})
                entry["text"] += c.delta.content or ""
                entry["finish"] = c.finish_reason or entry["finish"]
        case["choices"] = [choices[i] for i in sorted(choices)]
    for choice in case["choices"]:
        if choice["finish"] != "stop":
            problems.append(f"{name}: finish {choice['finish']}")
            continue
        try:
            value = json.loads(choice["text"])
            jsonschema.validate(value, schema)
        except Exception as error:  # noqa: BLE001 - reported to the Swift test
            problems.append(f"{name}: {choice['text']!r}: {error}")
    cases.append(case)


format_person = {"type": "json_schema", "json_schema": {"name": "person", "schema": person, "strict": True}}
run("json_schema, greedy", False, person, response_format=format_person, max_tokens=120, temperature=0)
run("json_schema, sampled, three choices", False, person, response_format=format_person, max_tokens=120,
    temperature=0.8, seed=5, n=3)
run("json_schema, sampled, streamed", True, person, response_format=format_person, max_tokens=120,
    temperature=0.7, seed=9)
run("json_object", False, {"type": "object"}, response_format={"type": "json_object"}, max_tokens=120,
    temperature=0)


class Hobby(pydantic.BaseModel):
    name: str
    years: int


class Person(pydantic.BaseModel):
    name: str
    age: int
    hobby: Hobby
    nickname: str | None


parse = getattr(client.chat.completions, "parse", None) or client.beta.chat.completions.parse
parsed = parse(model=model, messages=question, response_format=Person, max_tokens=120, temperature=0)
parsed_ok = isinstance(parsed.choices[0].message.parsed, Person)

# A schema with a keyword the node cannot enforce is refused by name, before any work.
try:
    client.chat.completions.create(model=model, messages=question, max_tokens=8, response_format={
        "type": "json_schema", "json_schema": {"name": "p", "schema": {
            "type": "object", "properties": {"age": {"type": "integer", "minimum": 0}}}}})
    refused = [200, None, None]
except openai.BadRequestError as error:
    refused = [error.status_code, error.code, error.param]

print(json.dumps({"cases": cases, "problems": problems, "parsed": parsed_ok, "refused": refused,
                  "parsed_text": parsed.choices[0].message.content}))
