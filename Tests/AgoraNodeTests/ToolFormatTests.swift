import AgoraCore
import AgoraInference
import AgoraWire
import Foundation
import Testing

/// The two tool formats: how tools and tool turns are rendered, how calls are parsed back, and that the
/// call grammar of each accepts exactly its calls.
@Suite struct ToolFormatTests {
    let tools = ToolSet(tools: [
        ToolSpec(
            name: "get_weather", description: "Weather",
            parameters: #"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#)
    ])
    let messages = [
        OpenAIMessage(role: "system", content: "Be brief."), OpenAIMessage(role: "user", content: "Paris?"),
        OpenAIMessage(
            role: "assistant", content: "",
            toolCalls: [ToolCall(id: "c1", name: "get_weather", arguments: #"{"city":"Paris"}"#)]),
        OpenAIMessage(role: "tool", content: "21 C", toolCallID: "c1"),
        OpenAIMessage(role: "tool", content: "clear", toolCallID: "c1"),
    ]

    @Test func hermesRendersToolsCallsAndResults() throws {
        let rendered = ToolFormat.hermes.render(messages, tools: tools)
        #expect(rendered.map(\.role) == ["system", "user", "assistant", "user"])
        #expect(
            rendered[0].content.hasPrefix("Be brief.\n\n# Tools\n")
                && rendered[0].content.contains("<tools>\n{\"type\":\"function\""))
        #expect(
            rendered[2].content
                == "<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n</tool_call>")
        #expect(
            rendered[3].content == "<tool_response>\n21 C\n</tool_response>\n<tool_response>\nclear\n</tool_response>")
        let parsed = try #require(
            ToolFormat.hermes.parse(
                "Sure.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\""
            ))
        #expect(
            parsed.content == "Sure." && parsed.calls.map(\.name) == ["a"] && parsed.calls[0].arguments == #"{"x":1}"#)
        #expect(ToolFormat.hermes.parse("no call here") == nil)
    }

    @Test func llama31RendersToolsInTheFirstUserTurn() throws {
        let rendered = ToolFormat.llama31.render(messages, tools: tools)
        #expect(rendered.map(\.role) == ["system", "user", "assistant", "ipython", "ipython"])
        #expect(rendered[0].content.hasPrefix("Environment: ipython\n") && rendered[0].content.hasSuffix("Be brief."))
        #expect(
            rendered[1].content.hasPrefix("Given the following functions") && rendered[1].content.hasSuffix("Paris?"))
        #expect(rendered[2].content == #"{"name":"get_weather","parameters":{"city":"Paris"}}"#)
        let parsed = try #require(ToolFormat.llama31.parse(#"{"name": "get_weather", "parameters": {"city": "Rome"}}"#))
        #expect(parsed.calls.map(\.name) == ["get_weather"] && parsed.calls[0].arguments == #"{"city":"Rome"}"#)
    }

    @Test func callGrammarsAcceptTheirFormatOnly() throws {
        let parameters = try JSONValue.parse(tools.tools[0].parameters)
        let hermes = try JSONGrammar.toolCalls([("get_weather", parameters)], parallel: true)
        let single = try JSONGrammar.toolCalls([("get_weather", parameters)], parallel: false)
        let llama = try JSONGrammar.toolCalls(
            [("get_weather", parameters)], parallel: false, framed: false, argumentsKey: "parameters")
        func accepts(_ grammar: JSONGrammar, _ text: String) -> Bool {
            var matcher = GrammarMatcher(grammar: grammar)
            return matcher.advance(Array(text.utf8)) && matcher.acceptsEnd
        }
        let call = "<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}\n</tool_call>"
        #expect(accepts(hermes, call) && accepts(hermes, call + "\n" + call) && !accepts(hermes, call + "\n"))
        #expect(accepts(single, call) && !accepts(single, call + "\n" + call))
        #expect(!accepts(hermes, "<tool_call>\n{\"name\":\"get_time\",\"arguments\":{}}\n</tool_call>"))
        #expect(!accepts(hermes, "<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{}}\n</tool_call>"))
        #expect(accepts(llama, #"{"name": "get_weather", "parameters": {"city": "Oslo"}}"#) && !accepts(llama, call))
    }
}
