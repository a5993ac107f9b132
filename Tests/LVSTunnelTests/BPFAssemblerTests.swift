import LVSPacket
import Testing

@testable import LVSTunnel

/// The assembler's encoding against hand-decoded `struct bpf_insn` values, and the XDP program's
/// control flow checked as the kernel's verifier does first (every jump inside the program, every
/// instruction reachable, every path ending in exit), so a malformed program fails here without root.
@Suite struct BPFAssemblerTests {
    @Test func encodesInstructionsAsTheKernelLaysThemOut() throws {
        var a = BPFAssembler()
        a.mov(.r6, .r1)  // BPF_ALU64 | BPF_MOV | BPF_X = 0xbf, dst 6, src 1
        a.load(.w, .r2, .r6, 4)  // BPF_LDX | BPF_MEM | BPF_W = 0x61
        a.store(.h, .r2, 12, imm: 0xdd86)  // BPF_ST | BPF_MEM | BPF_H = 0x6a
        a.alu(.add, .r2, -4)  // 0x07, imm -4
        a.exit()
        let p = try a.assembled()
        #expect(p[0] == 0x0000_0000_0000_16bf)
        #expect(p[1] == 0x0000_0000_0004_6261)
        #expect(p[2] == 0x0000_dd86_000c_026a)
        #expect(p[3] == 0xffff_fffc_0000_0207)
        #expect(p[4] == 0x95)
    }

    @Test func resolvesForwardAndBackwardLabels() throws {
        var a = BPFAssembler()
        let ahead = a.label(), back = a.label()
        a.bind(back)
        a.jump(.eq, .r1, 7, ahead)  // slot 0 -> slot 3: offset 2
        a.mov(.r0, 1)
        a.jump(back)  // slot 2 -> slot 0: offset -3
        a.bind(ahead)
        a.exit()
        let p = try a.assembled()
        #expect(Int16(bitPattern: UInt16(p[0] >> 16 & 0xffff)) == 2)
        #expect(Int16(bitPattern: UInt16(p[2] >> 16 & 0xffff)) == -3)
        #expect(p[0] & 0xff == 0x15)  // BPF_JMP | BPF_JEQ | BPF_K
    }

    @Test func anUnboundLabelIsAnError() {
        var a = BPFAssembler()
        let nowhere = a.label()
        a.jump(nowhere)
        #expect(throws: BPFAssemblerError.unboundLabel) { try a.assembled() }
    }

    @Test func jump32ComparesTheUnsignedLow32Bits() throws {
        var a = BPFAssembler()
        let l = a.label()
        a.jump32(.eq, .r0, 0xc803_000a, l)  // 10.0.3.200 as loaded little-endian: top bit set
        a.bind(l)
        a.exit()
        let p = try a.assembled()
        #expect(p[0] & 0xff == 0x16)  // BPF_JMP32 | BPF_JEQ | BPF_K
        #expect(UInt32(truncatingIfNeeded: p[0] >> 32) == 0xc803_000a)
    }

    static let variants: [(ipip: Bool, gue: UInt16?, directors: [IPAddress])] = [
        (true, nil, []), (false, 6080, []), (true, 6080, []),
        (true, 6080, [IPAddress("10.0.3.1")!]), (true, 6080, [IPAddress("fd00:3::1")!]),
        (true, 6080, [IPAddress("10.0.3.1")!, IPAddress("10.0.3.200")!, IPAddress("fd00:3::1")!, IPAddress("fd00:3::2")!]),
        (false, 443, [IPAddress("192.0.2.1")!]),
    ]

    @Test(arguments: 0..<variants.count) func everyInstructionOfTheProgramIsReachableAndEveryPathExits(_ i: Int) {
        let v = Self.variants[i]
        let p = XDPDecapProgram.build(ipip: v.ipip, guePort: v.gue, directors: v.directors, counterMap: 3)
        #expect(p.count < 4096)
        var seen = [Bool](repeating: false, count: p.count)
        var stack = [0]
        var problems: [String] = []
        while let at = stack.popLast() {
            guard at >= 0, at < p.count else { problems.append("jump out of the program to \(at)"); continue }
            if seen[at] { continue }
            seen[at] = true
            let code = UInt8(p[at] & 0xff)
            let off = Int(Int16(bitPattern: UInt16(p[at] >> 16 & 0xffff)))
            let cls = code & 0x07
            if code == 0x18 {  // ld_imm64 takes two slots
                stack.append(at + 2)
            } else if cls == 0x05 || cls == 0x06 {
                let op = code & 0xf0
                if op == 0x90 { continue }  // exit
                if op == 0x80 { stack.append(at + 1); continue }  // call
                if op == 0x00 { stack.append(at + 1 + off); continue }  // ja
                stack.append(at + 1)
                stack.append(at + 1 + off)
            } else {
                stack.append(at + 1)
            }
        }
        for (k, s) in seen.enumerated() where !s {
            // The second slot of an ld_imm64 is not an instruction of its own.
            if k > 0, p[k - 1] & 0xff == 0x18 { continue }
            problems.append("unreachable instruction \(k)")
        }
        #expect(problems.isEmpty, "variant \(i): \(problems)")
    }
}
