/// A small eBPF assembler: enough instructions for the XDP decapsulation program, with forward
/// labels. SwiftLVS assembles its one BPF program itself instead of shipping an object built by
/// clang, so the agent needs no BPF toolchain and the program can embed per-run constants (the
/// GUE port, the allowed directors) as immediates.
///
/// Encoding (Linux `struct bpf_insn`): opcode byte, dst register in the low and src register in
/// the high nibble of the second byte, a signed 16-bit offset, a signed 32-bit immediate; stored
/// here as one little-endian UInt64 per instruction slot.
public struct BPFAssembler: Sendable {
    public struct Register: Sendable, Equatable {
        public let n: UInt8
        public static let r0 = Register(n: 0), r1 = Register(n: 1), r2 = Register(n: 2), r3 = Register(n: 3)
        public static let r4 = Register(n: 4), r5 = Register(n: 5), r6 = Register(n: 6), r7 = Register(n: 7)
        public static let r8 = Register(n: 8), r9 = Register(n: 9), r10 = Register(n: 10)
    }

    public enum Size: UInt8, Sendable { case w = 0x00, h = 0x08, b = 0x10, dw = 0x18 }

    public enum Jump: UInt8, Sendable {
        case eq = 0x10, gt = 0x20, ge = 0x30, set = 0x40, ne = 0x50, lt = 0xa0, le = 0xb0
    }

    public enum ALU: UInt8, Sendable {
        case add = 0x00, sub = 0x10, or = 0x40, and = 0x50, lsh = 0x60, rsh = 0x70, mov = 0xb0
    }

    /// A jump target; `label()` makes one, `bind` places it.
    public struct Label: Hashable, Sendable { let id: Int }

    public private(set) var slots: [UInt64] = []
    private var bound: [Int: Int] = [:]
    private var fixups: [(slot: Int, label: Int)] = []
    private var nextLabel = 0

    public init() {}

    public mutating func label() -> Label {
        nextLabel += 1
        return Label(id: nextLabel)
    }

    /// Whether any jump so far targets `l` (code only reachable through it can be left out: the
    /// verifier refuses unreachable instructions).
    public func isReferenced(_ l: Label) -> Bool { fixups.contains { $0.label == l.id } }

    public mutating func bind(_ l: Label) {
        precondition(bound[l.id] == nil, "label bound twice")
        bound[l.id] = slots.count
    }

    static func encode(_ code: UInt8, dst: UInt8 = 0, src: UInt8 = 0, off: Int16 = 0, imm: Int32 = 0) -> UInt64 {
        UInt64(code) | UInt64(dst & 0xf | (src & 0xf) << 4) << 8 | UInt64(UInt16(bitPattern: off)) << 16
            | UInt64(UInt32(bitPattern: imm)) << 32
    }

    private mutating func emit(_ code: UInt8, dst: Register = .r0, src: Register = .r0, off: Int16 = 0, imm: Int32 = 0) {
        slots.append(Self.encode(code, dst: dst.n, src: src.n, off: off, imm: imm))
    }

    // 64-bit ALU (BPF_ALU64 = 0x07), immediate (BPF_K) or register (BPF_X = 0x08) source.
    public mutating func alu(_ op: ALU, _ dst: Register, _ imm: Int32) { emit(0x07 | op.rawValue, dst: dst, imm: imm) }
    public mutating func alu(_ op: ALU, _ dst: Register, _ src: Register) { emit(0x07 | 0x08 | op.rawValue, dst: dst, src: src) }
    public mutating func mov(_ dst: Register, _ imm: Int32) { alu(.mov, dst, imm) }
    public mutating func mov(_ dst: Register, _ src: Register) { alu(.mov, dst, src) }

    /// dst = *(size *)(src + off)   (BPF_LDX | BPF_MEM)
    public mutating func load(_ size: Size, _ dst: Register, _ src: Register, _ off: Int16) {
        emit(0x01 | 0x60 | size.rawValue, dst: dst, src: src, off: off)
    }

    /// *(size *)(dst + off) = src   (BPF_STX | BPF_MEM)
    public mutating func store(_ size: Size, _ dst: Register, _ off: Int16, _ src: Register) {
        emit(0x03 | 0x60 | size.rawValue, dst: dst, src: src, off: off)
    }

    /// *(size *)(dst + off) = imm   (BPF_ST | BPF_MEM)
    public mutating func store(_ size: Size, _ dst: Register, _ off: Int16, imm: Int32) {
        emit(0x02 | 0x60 | size.rawValue, dst: dst, off: off, imm: imm)
    }

    /// Atomic *(u64 *)(dst + off) += src   (BPF_STX | BPF_ATOMIC | BPF_DW, imm BPF_ADD)
    public mutating func atomicAdd64(_ dst: Register, _ off: Int16, _ src: Register) {
        emit(0x03 | 0xc0 | 0x18, dst: dst, src: src, off: off, imm: 0)
    }

    /// dst = the map with file descriptor `fd` (BPF_LD | BPF_DW | BPF_IMM, src BPF_PSEUDO_MAP_FD; two slots).
    public mutating func loadMap(_ dst: Register, fd: Int32) {
        emit(0x18, dst: dst, src: Register(n: 1), imm: fd)
        slots.append(0)
    }

    /// if dst OP imm goto target   (BPF_JMP | BPF_K)
    public mutating func jump(_ op: Jump, _ dst: Register, _ imm: Int32, _ target: Label) {
        fixups.append((slots.count, target.id))
        emit(0x05 | op.rawValue, dst: dst, imm: imm)
    }

    /// if dst OP src goto target   (BPF_JMP | BPF_X)
    public mutating func jump(_ op: Jump, _ dst: Register, _ src: Register, _ target: Label) {
        fixups.append((slots.count, target.id))
        emit(0x05 | 0x08 | op.rawValue, dst: dst, src: src)
    }

    /// if (u32)dst OP (u32)imm goto target   (BPF_JMP32 | BPF_K): compares the low 32 bits, so an
    /// immediate with the top bit set is not sign-extended against a zero-extended load.
    public mutating func jump32(_ op: Jump, _ dst: Register, _ imm: UInt32, _ target: Label) {
        fixups.append((slots.count, target.id))
        emit(0x06 | op.rawValue, dst: dst, imm: Int32(bitPattern: imm))
    }

    /// goto target   (BPF_JA)
    public mutating func jump(_ target: Label) {
        fixups.append((slots.count, target.id))
        emit(0x05)
    }

    public mutating func call(_ helper: Int32) { emit(0x05 | 0x80, imm: helper) }
    public mutating func exit() { emit(0x05 | 0x90) }

    /// The encoded program with every jump resolved. Every label used must be bound.
    public func assembled() throws(BPFAssemblerError) -> [UInt64] {
        var out = slots
        for f in fixups {
            guard let target = bound[f.label] else { throw .unboundLabel }
            let delta = target - f.slot - 1
            guard let off = Int16(exactly: delta) else { throw .jumpTooFar }
            out[f.slot] = out[f.slot] & ~(UInt64(0xffff) << 16) | UInt64(UInt16(bitPattern: off)) << 16
        }
        return out
    }
}

public enum BPFAssemblerError: Error, Sendable, Equatable {
    case unboundLabel
    case jumpTooFar
}
