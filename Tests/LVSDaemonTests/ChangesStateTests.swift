import Testing

@testable import LVSDaemon

@Suite struct ChangesStateTests {
    @Test(arguments: [
        (["-A", "-t", "10.0.0.1:80"], true), (["-a", "-t", "10.0.0.1:80", "-r", "10.0.1.2"], true),
        (["--delete-server"], true), (["-R"], true), (["-C"], true),
        (["-L", "-n"], false), (["-Z"], false), (["--set", "1", "2", "3"], false), (["-S", "-n"], false),
    ])
    func mutatingCommandsAreRecognised(_ args: [String], _ changes: Bool) {
        #expect(Daemon.changesState(args) == changes)
    }
}
