import Prometheus

/// The node's counters and gauges, served at `/metrics` in Prometheus text format. Nothing here carries
/// request content: only counts, sizes and times.
public final class NodeMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let requests: Counter
    let completions: Counter
    let cancelled: Counter
    let promptTokens: Counter
    let completionTokens: Counter
    let tokensPerSecond: Gauge
    let queueDepth: Gauge
    let running: Gauge
    let paymentsAccepted: Counter
    let paymentsRequired: Counter
    let paymentsRefused: Counter
    let refusedOverloaded: Counter
    let refusedInvalid: Counter
    let settlementsSettled: Counter
    let settlementsFailed: Counter
    let microUnitsEarned: Counter

    public init() {
        requests = registry.makeCounter(name: "agora_requests_total", help: "HTTP requests received")
        completions = registry.makeCounter(name: "agora_completions_total", help: "Completions served")
        cancelled = registry.makeCounter(
            name: "agora_cancelled_total", help: "Jobs stopped early because the client went away (not charged)")
        promptTokens = registry.makeCounter(name: "agora_prompt_tokens_total", help: "Prompt tokens processed")
        completionTokens = registry.makeCounter(name: "agora_completion_tokens_total", help: "Tokens generated")
        tokensPerSecond = registry.makeGauge(
            name: "agora_generation_tokens_per_second", help: "Decode speed of the last job")
        queueDepth = registry.makeGauge(name: "agora_queue_depth", help: "Requests waiting for the engine")
        running = registry.makeGauge(name: "agora_running_jobs", help: "Jobs on the engine now")
        paymentsAccepted = registry.makeCounter(name: "agora_payments_accepted_total", help: "Vouchers accepted")
        paymentsRequired = registry.makeCounter(name: "agora_payments_required_total", help: "402 answers sent")
        paymentsRefused = registry.makeCounter(name: "agora_payments_refused_total", help: "Vouchers refused")
        refusedOverloaded = registry.makeCounter(
            name: "agora_refused_overloaded_total", help: "Requests refused: queue full")
        refusedInvalid = registry.makeCounter(name: "agora_refused_invalid_total", help: "Requests refused: bad input")
        settlementsSettled = registry.makeCounter(name: "agora_settlements_total", help: "Jobs settled on the ledger")
        settlementsFailed = registry.makeCounter(
            name: "agora_settlements_refused_total", help: "Settlements the ledger refused")
        microUnitsEarned = registry.makeCounter(name: "agora_earned_micro_units_total", help: "Amount charged, in µAGR")
    }

    public func render() -> String { registry.emitToString() }
}
