/// Ascending numbers as runs, `[1, 2, 3, 7]` as `["1...3", "7"]`: line numbers that are missing or doubled, short
/// enough for a failure message.
public func numberRanges(_ numbers: [Int]) -> [String] {
    var result: [String] = []
    var index = 0
    while index < numbers.count {
        var end = index
        while end + 1 < numbers.count, numbers[end + 1] == numbers[end] + 1 { end += 1 }
        result.append(end == index ? "\(numbers[index])" : "\(numbers[index])...\(numbers[end])")
        index = end + 1
    }
    return result
}
