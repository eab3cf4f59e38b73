/// The version of pybgd, pybgctl and their protocol, in one place: `--version` of both programs,
/// PING and STATUS report it.
public enum PyBackgroundVersion {
    public static let current = "0.1.0"
}
