"""Drives an Agora node with the official `openai` Python client and prints what it got as JSON.

Usage: python3 openai_check.py BASE_URL
The Swift test that runs this compares the texts with what the engine produces for the same seed.
"""
import json
import sys

import openai

base_url = sys.argv[1]
client = openai.OpenAI(base_url=base_url + "/v1", api_key="unused", max_retries=0)

models = client.models.list()
model_ids = [m.id for m in models.data]
model = model_ids[0]

messages = [{"role": "user", "content": "What is the capital of France?"}]
chat = client.chat.completions.create(model=model, messages=messages, max_tokens=16, temperature=0.7, seed=42)

pieces = []
finish = None
stream = client.chat.completions.create(
    model=model, messages=messages, max_tokens=16, temperature=0.7, seed=42, stream=True)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
        pieces.append(chunk.choices[0].delta.content)
    if chunk.choices and chunk.choices[0].finish_reason:
        finish = chunk.choices[0].finish_reason

legacy = client.completions.create(model=model, prompt="The capital of France is", max_tokens=8, temperature=0, seed=1)

try:
    client.chat.completions.create(model="no-such-model", messages=messages, max_tokens=4)
    unknown_model_status = 200
except openai.NotFoundError as error:
    unknown_model_status = error.status_code

# Parameters the node does not implement are refused by name, never silently ignored.
unsupported = {
    "prediction": {"prediction": {"type": "content", "content": "Paris"}},
    "modalities": {"modalities": ["text"]},
    "service_tier": {"service_tier": "auto"},
}
refused = {}
for name, extra in unsupported.items():
    try:
        client.chat.completions.create(model=model, messages=messages, max_tokens=4, temperature=0, **extra)
        refused[name] = [200, None, None]
    except openai.BadRequestError as error:
        refused[name] = [error.status_code, error.code, error.param]
# The same parameters at their neutral values change nothing and are accepted.
neutral = client.chat.completions.create(
    model=model, messages=messages, max_tokens=16, temperature=0.7, seed=42, n=1, presence_penalty=0,
    frequency_penalty=0, logprobs=False)

# Content as an array of text parts is the message with the texts joined by "\n".
parts = client.chat.completions.create(model=model, max_tokens=8, temperature=0, messages=[
    {"role": "user", "content": [{"type": "text", "text": "What is"}, {"type": "text", "text": "the capital of France?"}]}])
joined = client.chat.completions.create(model=model, max_tokens=8, temperature=0, messages=[
    {"role": "user", "content": "What is\nthe capital of France?"}])
try:
    client.chat.completions.create(model=model, max_tokens=4, messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}])
    image_part = [200, None, None]
except openai.BadRequestError as error:
    image_part = [error.status_code, error.code, error.param]

print(json.dumps({
    "parts_text": parts.choices[0].message.content,
    "joined_text": joined.choices[0].message.content,
    "image_part": image_part,
    "refused": refused,
    "neutral_text": neutral.choices[0].message.content,
    "models": model_ids,
    "chat_text": chat.choices[0].message.content,
    "chat_finish": chat.choices[0].finish_reason,
    "chat_usage": [chat.usage.prompt_tokens, chat.usage.completion_tokens],
    "stream_text": "".join(pieces),
    "stream_finish": finish,
    "legacy_text": legacy.choices[0].text,
    "unknown_model_status": unknown_model_status,
}))
