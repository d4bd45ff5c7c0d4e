/// An element of a `PriorityHeap`: `precedes` says which of two comes out first.
protocol HeapPriority {
    func precedes(_ other: Self) -> Bool
}

/// A binary heap over an array that keeps its capacity between uses: both tokenizers' merge loops pop the
/// next pair to merge from one, per word or fragment, without allocating each time. (swift-collections'
/// `Heap` would do, but it is the only thing Agora would take from that package.)
struct PriorityHeap<Element: HeapPriority> {
    private var elements: [Element] = []

    mutating func removeAll() { elements.removeAll(keepingCapacity: true) }

    mutating func push(_ element: Element) {
        elements.append(element)
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard elements[child].precedes(elements[parent]) else { break }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard let top = elements.first else { return nil }
        let last = elements.removeLast()
        if elements.isEmpty { return top }
        elements[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            if left >= elements.count { break }
            let right = left + 1
            let first = right < elements.count && elements[right].precedes(elements[left]) ? right : left
            guard elements[first].precedes(elements[parent]) else { break }
            elements.swapAt(first, parent)
            parent = first
        }
        return top
    }
}
