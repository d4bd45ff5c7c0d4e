"""Tool calling through the official `openai` client against a free Agora node: a required call, the tool's
result sent back and the final answer, a named function, a streamed call, one call only
(`parallel_tool_calls: false`), and `auto`. Every call's arguments must parse and validate against the
tool's parameters (`jsonschema`); the answers are printed as JSON for the Swift test to re-execute.

Usage: python3 openai_tools_check.py BASE_URL
"""
import json
import sys

import jsonschema
import openai

base_url = sys.argv[1]
client = openai.OpenAI(base_url=base_url + "/v1", api_key="unused", max_retries=0)
model = client.models.list().data[0].id

weather = {"type": "object", "properties": {
    "city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
    "required": ["city", "unit"], "additionalProperties": False}
time_params = {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}
tools = [
    {"type": "function", "function": {"name": "get_weather", "description": "The weather in a city.",
                                      "parameters": weather, "strict": True}},
    {"type": "function", "function": {"name": "get_time", "description": "The time in a zone.",
                                      "parameters": time_params}},
]
schemas = {"get_weather": weather, "get_time": time_params}
question = [{"role": "user", "content": "What is the weather in Paris?"}]
cases, problems = [], []


def check_calls(name, calls, only=None):
    for call in calls:
        if only is not None and call["name"] != only:
            problems.append(f"{name}: called {call['name']}, not {only}")
        try:
            jsonschema.validate(json.loads(call["arguments"]), schemas[call["name"]])
        except Exception as error:  # noqa: BLE001 - reported to the Swift test
            problems.append(f"{name}: {call}: {error}")


def run(name, stream=False, expect_calls=True, only=None, **body):
    body = {"model": model, "messages": question, "max_tokens": 96, "temperature": 0, "tools": tools, **body}
    sent = {k: v for k, v in body.items() if k != "model"}
    case = {"name": name, "chat": True, "stream": stream, "body": json.dumps(sent)}
    if not stream:
        response = client.chat.completions.create(**body)
        dump = response.model_dump()
        case["receipt"] = dump["agora_receipt"]
        case["usage"] = [response.usage.prompt_tokens, response.usage.completion_tokens]
        choice = response.choices[0]
        message = dump["choices"][0]["message"]
        calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                 for c in choice.message.tool_calls or []]
        case["choices"] = [{"index": 0, "finish": choice.finish_reason, "text": message["agora_text"],
                            "logprobs": None, "legacy": None}]
    else:
        calls, text, finish, raw = [], "", None, None
        for chunk in client.chat.completions.create(stream=True, **body):
            dump = chunk.model_dump()
            if dump.get("agora_receipt"):
                case["receipt"] = dump["agora_receipt"]
                case["usage"] = [chunk.usage.prompt_tokens, chunk.usage.completion_tokens]
            for c in chunk.choices:
                text += c.delta.content or ""
                for delta in c.delta.tool_calls or []:
                    calls.append({"id": delta.id, "name": delta.function.name, "arguments": delta.function.arguments})
                finish = c.finish_reason or finish
            for c in dump["choices"]:
                raw = c.get("agora_text") or raw
        case["choices"] = [{"index": 0, "finish": finish, "text": raw, "logprobs": None, "legacy": None}]
        case["streamed_content"] = text
    case["calls"] = calls
    if expect_calls:
        # A model that keeps calling (parallel calls allowed) may run into max_tokens: the complete calls count.
        if not calls or case["choices"][0]["finish"] not in ("tool_calls", "length"):
            problems.append(f"{name}: no tool call ({case['choices'][0]})")
        check_calls(name, calls, only)
    cases.append(case)
    return calls


calls = run("required", tool_choice="required")
named = run("named function", tool_choice={"type": "function", "function": {"name": "get_time"}}, only="get_time")
run("streamed, required", stream=True, tool_choice="required", temperature=0.8, seed=4)
single = run("one call only", tool_choice="required", parallel_tool_calls=False)
if len(single) != 1:
    problems.append(f"one call only: {len(single)} calls")
run("auto", expect_calls=False, tool_choice="auto")

# The result goes back with the call, and the model answers in text.
follow_up = question + [
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
        for c in calls]},
] + [{"role": "tool", "tool_call_id": c["id"], "content": json.dumps({"temperature": 21, "sky": "clear"})}
     for c in calls]
final = client.chat.completions.create(model=model, messages=follow_up, tools=tools, tool_choice="none",
                                       max_tokens=32, temperature=0)
final_dump = final.model_dump()
cases.append({"name": "the final answer", "chat": True, "stream": False,
              "body": json.dumps({"messages": follow_up, "tools": tools, "tool_choice": "none", "max_tokens": 32,
                                  "temperature": 0}),
              "receipt": final_dump["agora_receipt"],
              "usage": [final.usage.prompt_tokens, final.usage.completion_tokens],
              "choices": [{"index": 0, "finish": final.choices[0].finish_reason,
                           "text": final_dump["choices"][0]["message"]["agora_text"], "logprobs": None,
                           "legacy": None}],
              "calls": []})
if final.choices[0].message.tool_calls or not final.choices[0].message.content:
    problems.append(f"final answer: {final_dump['choices'][0]}")

print(json.dumps({"cases": cases, "problems": problems, "final": final.choices[0].message.content}))
