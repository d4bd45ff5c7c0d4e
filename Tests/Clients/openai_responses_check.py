"""`POST /v1/responses` through the official client's `client.responses.create`: text, instructions, a JSON
schema (`text.format`), a function call and its output sent back, streaming with the Responses event types,
and refusals of what a stateless node cannot do. Prints the answers as JSON for the Swift test to re-execute.

Usage: python3 openai_responses_check.py BASE_URL
"""
import json
import sys

import jsonschema
import openai

base_url = sys.argv[1]
client = openai.OpenAI(base_url=base_url + "/v1", api_key="unused", max_retries=0)
model = client.models.list().data[0].id
cases, problems = [], []

person = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}
weather = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
           "additionalProperties": False}
tools = [{"type": "function", "name": "get_weather", "description": "The weather in a city.",
          "parameters": weather, "strict": True}]


def record(name, body, response, stream=False):
    # The body as the node sees it: extra_body's fields sit beside the others.
    sent = {k: v for k, v in body.items() if k != "extra_body"}
    sent.update(body.get("extra_body") or {})
    dump = response.model_dump()
    finish = "stop" if response.status == "completed" else "length"
    if any(item.type == "function_call" for item in response.output) and finish == "stop":
        finish = "tool_calls"
    cases.append({
        "name": name, "chat": True, "stream": stream, "body": json.dumps(sent), "receipt": dump["agora_receipt"],
        "usage": [response.usage.input_tokens, response.usage.output_tokens],
        "choices": [{"index": 0, "finish": finish, "text": dump["agora_text"], "logprobs": None, "legacy": None}],
    })


def create(name, **body):
    response = client.responses.create(model=model, **body)
    record(name, body, response)
    return response


plain = create("text with instructions", input="What is the capital of France?",
               instructions="Answer in one sentence.", max_output_tokens=24, temperature=0)
if not plain.output_text or plain.output[0].type != "message":
    problems.append(f"plain: {plain.model_dump()}")

structured = create("text.format json_schema", input=[{"role": "user", "content": "A person as JSON."}],
                    text={"format": {"type": "json_schema", "name": "person", "schema": person, "strict": True}},
                    max_output_tokens=64, temperature=0.7, extra_body={"seed": 3})
try:
    jsonschema.validate(json.loads(structured.output_text), person)
except Exception as error:  # noqa: BLE001 - reported to the Swift test
    problems.append(f"json_schema: {structured.output_text!r}: {error}")

called = create("a required function call", input="What is the weather in Paris?", tools=tools,
                tool_choice="required", max_output_tokens=64, temperature=0)
calls = [item for item in called.output if item.type == "function_call"]
if not calls or calls[0].name != "get_weather":
    problems.append(f"function call: {called.model_dump()}")
else:
    jsonschema.validate(json.loads(calls[0].arguments), weather)

follow = [{"role": "user", "content": "What is the weather in Paris?"}]
follow += [{"type": "function_call", "call_id": c.call_id, "name": c.name, "arguments": c.arguments} for c in calls]
follow += [{"type": "function_call_output", "call_id": c.call_id, "output": "21 C, clear"} for c in calls]
final = create("the call's output sent back", input=follow, tools=tools, tool_choice="none", max_output_tokens=32,
               temperature=0)
if not final.output_text:
    problems.append(f"final: {final.model_dump()}")

# Streaming: the typed events, text deltas adding up to the completed response's text.
sent = {"input": "Tell me about Paris.", "max_output_tokens": 24, "temperature": 0.8, "seed": 5}
deltas, types, completed = [], [], None
with client.responses.stream(model=model, input=sent["input"], max_output_tokens=24, temperature=0.8,
                             extra_body={"seed": 5}) as stream:
    for event in stream:
        types.append(event.type)
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
        if event.type in ("response.completed", "response.incomplete"):
            completed = event.response
if completed is None or "".join(deltas) != completed.output_text:
    problems.append(f"stream: {types} {''.join(deltas)!r}")
else:
    record("streamed", sent, completed, stream=True)
for expected in ["response.created", "response.output_item.added", "response.output_text.delta",
                 "response.output_item.done"]:
    if expected not in types:
        problems.append(f"stream: no {expected} in {types}")

# A streamed function call: the call comes as its own output item after the message (output_index 1).
call_items, final_calls = [], []
with client.responses.stream(model=model, input="What is the weather in Paris?", tools=tools, tool_choice="required",
                             max_output_tokens=64, temperature=0) as stream:
    for event in stream:
        if event.type == "response.output_item.added" and event.item.type == "function_call":
            call_items.append(event.output_index)
        if event.type in ("response.completed", "response.incomplete"):
            final_calls = [item for item in event.response.output if item.type == "function_call"]
if not final_calls or call_items[:1] != [1]:
    problems.append(f"streamed call: items at {call_items}, final {final_calls}")
else:
    jsonschema.validate(json.loads(final_calls[0].arguments), weather)

refused = {}
for key, extra in {"store": {"store": True}, "previous_response_id": {"previous_response_id": "resp_1"},
                   "reasoning": {"reasoning": {"effort": "low"}}}.items():
    try:
        client.responses.create(model=model, input="Hi", max_output_tokens=4, **extra)
        refused[key] = [200, None, None]
    except openai.BadRequestError as error:
        refused[key] = [error.status_code, error.code, error.param]

print(json.dumps({"cases": cases, "problems": problems, "refused": refused}))
