import LogFerryDeflate

extension ConfigValue {
    /// `compressor`: isal | libdeflate | zlib.
    static func compressor(_ text: String, key: String) throws -> DeflateBackend {
        guard let backend = DeflateBackend(configValue: text) else {
            throw ConfigError.badValue(key: key, value: text, expected: "isal, libdeflate or zlib")
        }
        return backend
    }
}
