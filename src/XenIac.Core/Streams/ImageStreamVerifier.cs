using System.Buffers.Binary;

namespace XenIac.Core.Streams;

/// <summary>
/// Checks a domain image against the libxl and libxc stream specs: at least what Xen's verify-stream-v2 checks
/// (identifiers, versions, byte order, reserved fields, lengths, padding, PAGE_DATA consistency, END records) plus
/// what a restore relies on (record order, records that belong to the other guest type, duplicates, checkpoint
/// nesting, bytes after the final END). Page contents are not read (unless a page sink asks for them): on a seekable stream they are skipped by
/// seeking. The first problem ends the check.
/// </summary>
public static class ImageStreamVerifier
{
    public const string LegacyImageMessage = "pre-v2 legacy libxc stream, not verified";

    /// <summary>Verifies an image stream (libxl v2, or a bare libxc stream) positioned at its first byte.</summary>
    /// <param name="origin">Absolute offset of the image in its file, for reported offsets.</param>
    public static ImageVerification Verify(Stream image, ImageVerifierOptions? options = null, long origin = 0)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var reader = new ImageStreamReader(image, origin, leaveOpen: true);
        return new Run(reader, options ?? ImageVerifierOptions.Default, legacyAllowed: false).Execute();
    }

    /// <summary>
    /// The verification of an image inside a container: <paramref name="legacyAllowed"/> when the container says the
    /// image may be a pre-v2 stream (then such an image is reported as not verified instead of as bad).
    /// </summary>
    internal static ImageVerification Verify(Stream image, ImageVerifierOptions options, long origin, bool legacyAllowed)
    {
        using var reader = new ImageStreamReader(image, origin, leaveOpen: true);
        return new Run(reader, options, legacyAllowed).Execute();
    }

    /// <summary>One verification pass: the state the order rules need, and the summary being built.</summary>
    private sealed class Run(ImageStreamReader reader, ImageVerifierOptions options, bool legacyAllowed)
    {
        private readonly Dictionary<string, long> _records = new();
        private readonly long[] _pageTypes = new long[16];
        private readonly HashSet<uint> _pvVcpus = [];
        private readonly HashSet<uint> _segmentRecords = [];
        private readonly byte[] _buffer = new byte[4096];
        private long _pages;
        private long _highestPfn = -1;
        private long _recordCount;
        private int _hvmVcpus;
        private int _checkpoints;
        private int _libxcContexts;
        private bool _inCheckpoint;
        private LibxcStreamHeader? _libxc;
        private bool _staticDataEnd;
        private bool _pvInfo;
        private bool _p2mFrames;
        private bool _cpuidPolicy;
        private bool _msrPolicy;

        public ImageVerification Execute()
        {
            try
            {
                while (reader.MoveNext())
                {
                    var record = reader.Current;
                    if (!ReferenceEquals(reader.LibxcHeader, _libxc)) StartLibxc(reader.LibxcHeader!);
                    _recordCount++;
                    _records[record.QualifiedName] = _records.GetValueOrDefault(record.QualifiedName) + 1;
                    if (record.Layer == ImageLayer.Libxl) CheckLibxl(record);
                    else CheckLibxc(record);
                }
                var end = reader.Position;
                if (reader.HasTrailingData())
                    throw new XenFormatException(FormatError.InvalidImage,
                        $"data follows the final END record (from byte {end} on)", end) { RecordIndex = _recordCount };
                return new ImageVerification(ImageVerificationStatus.Valid, Summary(), null);
            }
            catch (XenFormatException e)
            {
                if (legacyAllowed && reader.LooksLikeLegacyImage)
                    return new ImageVerification(ImageVerificationStatus.NotVerified, Summary(),
                        new ImageStreamProblem(FormatError.InvalidImage, LegacyImageMessage, e.Offset, null));
                return new ImageVerification(ImageVerificationStatus.Invalid, Summary(),
                    new ImageStreamProblem(e.Error, e.Message, e.Offset, e.RecordIndex));
            }
        }

        private ImageSummary Summary() => new()
        {
            GuestType = _libxc?.DomainType switch
            {
                LibxcDomainType.X86Pv => GuestType.PV,
                LibxcDomainType.X86Hvm => options.ConfiguredGuestType == GuestType.PVH ? GuestType.PVH : GuestType.HVM,
                _ => GuestType.Unknown,
            },
            PageShift = _libxc?.PageShift ?? 0,
            Pages = _pages,
            HighestPfn = _highestPfn < 0 ? null : _highestPfn,
            PagesByType = Enumerable.Range(0, 16).Where(t => _pageTypes[t] > 0)
                .ToDictionary(t => ImageRecordNames.PageTypeName(t), t => _pageTypes[t]),
            Records = new Dictionary<string, long>(_records),
            RecordCount = _recordCount,
            VCpus = _libxc?.DomainType == LibxcDomainType.X86Pv ? _pvVcpus.Count : _hvmVcpus,
            Checkpoints = _checkpoints,
            XenVersion = _libxc?.XenVersion,
            LibxcVersion = _libxc?.Version ?? 0,
            BigEndian = reader.LibxlHeader?.IsBigEndian ?? _libxc?.IsBigEndian ?? false,
            LegacyConverted = reader.LibxlHeader?.IsLegacyConverted ?? false,
        };

        private void StartLibxc(LibxcStreamHeader header)
        {
            _libxc = header;
            if (header.PageShift != StreamLayout.X86PageShift)
                throw new XenFormatException(FormatError.InvalidImage,
                    $"libxc domain header page shift is {header.PageShift}, expected {StreamLayout.X86PageShift}",
                    header.Offset + StreamLayout.LibxcImageHeaderLength + 4);
        }

        private bool IsPv => _libxc?.DomainType == LibxcDomainType.X86Pv;

        private void CheckLibxl(ImageRecord r)
        {
            if (!r.IsKnown) Fail(r, $"unrecognised libxl record type 0x{r.Type:x8} (libxl rejects every type it does not know, optional or not)");
            switch ((LibxlRecordType)r.Type)
            {
                case LibxlRecordType.End:
                    RequireLength(r, 0);
                    if (_libxcContexts == 0) Fail(r, "libxl END before any LIBXC_CONTEXT: the image holds no domain");
                    if (_inCheckpoint) Fail(r, "libxl END inside a checkpoint (a libxc CHECKPOINT without its CHECKPOINT_END)");
                    break;
                case LibxlRecordType.LibxcContext:
                    RequireLength(r, 0);
                    if (_inCheckpoint) Fail(r, "LIBXC_CONTEXT inside a checkpoint");
                    if (++_libxcContexts > 1) Fail(r, "a second LIBXC_CONTEXT record (an image carries one libxc stream)");
                    break;
                case LibxlRecordType.EmulatorXenstoreData:
                    CheckEmulatorHeader(r);
                    CheckXenstoreData(r);
                    break;
                case LibxlRecordType.EmulatorContext:
                    CheckEmulatorHeader(r);
                    break;
                case LibxlRecordType.CheckpointEnd:
                    RequireLength(r, 0);
                    if (!_inCheckpoint) Fail(r, "CHECKPOINT_END without a libxc CHECKPOINT before it");
                    _inCheckpoint = false;
                    break;
                case LibxlRecordType.CheckpointState:
                    RequireLength(r, StreamLayout.CheckpointStateLength);
                    var id = ReadU32(r, libxl: true);
                    if (id > 3) Fail(r, $"CHECKPOINT_STATE with the unknown control id {id}");
                    break;
            }
        }

        private void CheckEmulatorHeader(ImageRecord r)
        {
            if (r.Length < StreamLayout.EmulatorHeaderLength)
                Fail(r, $"{r.Name} record of {r.Length} bytes is shorter than its {StreamLayout.EmulatorHeaderLength}-byte emulator header");
            if (_libxc is null) Fail(r, $"{r.Name} record before the libxc stream: its guest type is not known yet");
            if (IsPv) Fail(r, $"{r.Name} record in a PV guest's image (emulator records are for HVM guests)");
            var emulator = ReadU32(r, libxl: true);
            ReadU32(r, libxl: true);
            if (emulator > (uint)EmulatorId.QemuUpstream) Fail(r, $"{r.Name} record names the unrecognised emulator id 0x{emulator:x}");
        }

        private void CheckXenstoreData(ImageRecord r)
        {
            // Packed NUL-terminated key and value strings: the data must end with NUL and hold an even number of them.
            long nuls = 0;
            var last = (byte)0;
            int n;
            while ((n = reader.ReadBody(_buffer)) > 0)
            {
                nuls += _buffer.AsSpan(0, n).Count((byte)0);
                last = _buffer[n - 1];
            }
            if (r.Length == StreamLayout.EmulatorHeaderLength) return;
            if (last != 0) Fail(r, "EMULATOR_XENSTORE_DATA is not NUL-terminated");
            if (nuls % 2 != 0) Fail(r, $"EMULATOR_XENSTORE_DATA holds {nuls} strings, not key/value pairs");
        }

        private void CheckLibxc(ImageRecord r)
        {
            if (!r.IsKnown)
            {
                CheckUnknownLibxc(r);
                return;
            }
            var type = (LibxcRecordType)r.Type;
            CheckBelongsToGuestType(r, type);
            CheckOncePerSegment(r, type);
            var version = _libxc!.Version;
            switch (type)
            {
                case LibxcRecordType.End or LibxcRecordType.Verify:
                    RequireLength(r, 0);
                    // libxc's PV restore refuses a stream without vCPU 0's basic state ("Sender didn't send vcpu0's
                    // basic state"); without this, verify said valid, with 0 vCPUs, for a file xl cannot restore.
                    if (type == LibxcRecordType.End && _libxc.DomainType == LibxcDomainType.X86Pv && !_pvVcpus.Contains(0))
                        Fail(r, "the PV image ends without vCPU 0's basic state (no X86_PV_VCPU_BASIC record for vCPU 0); libxc refuses to restore it");
                    break;
                case LibxcRecordType.PageData:
                    CheckPageData(r);
                    break;
                case LibxcRecordType.X86PvInfo:
                    CheckPvInfo(r);
                    break;
                case LibxcRecordType.X86PvP2mFrames:
                    if (r.Length < 8 || r.Length % 8 != 0) Fail(r, $"X86_PV_P2M_FRAMES length {r.Length}, expected a multiple of 8 of at least 8");
                    if (!_pvInfo) Fail(r, "X86_PV_P2M_FRAMES before X86_PV_INFO");
                    RequireDynamicPhase(r);
                    _p2mFrames = true;
                    break;
                case LibxcRecordType.X86PvVcpuBasic or LibxcRecordType.X86PvVcpuExtended
                    or LibxcRecordType.X86PvVcpuXsave or LibxcRecordType.X86PvVcpuMsrs:
                    CheckPvVcpu(r, type);
                    break;
                case LibxcRecordType.SharedInfo:
                    RequireLength(r, _libxc.PageSize);
                    break;
                case LibxcRecordType.X86TscInfo:
                    CheckTscInfo(r);
                    break;
                case LibxcRecordType.HvmContext:
                    if (r.Length == 0) Fail(r, "HVM_CONTEXT record with no content");
                    RequireDynamicPhase(r);
                    _hvmVcpus = CountHvmCpus(r);
                    break;
                case LibxcRecordType.HvmParams:
                    CheckHvmParams(r);
                    break;
                case LibxcRecordType.Toolstack:
                    Fail(r, "TOOLSTACK record: deprecated, only ever present while the format was developed");
                    break;
                case LibxcRecordType.Checkpoint:
                    RequireLength(r, 0);
                    _checkpoints++;
                    _inCheckpoint = reader.InCheckpoint;
                    _segmentRecords.Clear();
                    break;
                case LibxcRecordType.CheckpointDirtyPfnList:
                    Fail(r, "CHECKPOINT_DIRTY_PFN_LIST record: it only travels on a COLO back channel, never in an image");
                    break;
                case LibxcRecordType.StaticDataEnd:
                    RequireLength(r, 0);
                    RequireVersion3(r, version);
                    if (_staticDataEnd) Fail(r, "a second STATIC_DATA_END record");
                    _staticDataEnd = true;
                    break;
                case LibxcRecordType.X86CpuidPolicy:
                    CheckPolicy(r, version, StreamLayout.X86CpuidLeafLength, ref _cpuidPolicy);
                    break;
                case LibxcRecordType.X86MsrPolicy:
                    CheckPolicy(r, version, StreamLayout.X86MsrEntryLength, ref _msrPolicy);
                    break;
            }
        }

        private void CheckUnknownLibxc(ImageRecord r)
        {
            if (!r.IsOptional) Fail(r, $"unrecognised mandatory libxc record type 0x{r.Type:x8}");
            if (!options.AllowUnknownOptionalRecords)
                Fail(r, $"unrecognised optional libxc record type 0x{r.Type:x8} (libxc would skip it; Xen's checker rejects it)");
        }

        /// <summary>Records that only one kind of guest has (PV's page tables and vCPUs, HVM's context and params).</summary>
        private void CheckBelongsToGuestType(ImageRecord r, LibxcRecordType type)
        {
            switch (type)
            {
                case LibxcRecordType.X86PvInfo or LibxcRecordType.X86PvP2mFrames or LibxcRecordType.X86PvVcpuBasic
                    or LibxcRecordType.X86PvVcpuExtended or LibxcRecordType.X86PvVcpuXsave or LibxcRecordType.X86PvVcpuMsrs
                    or LibxcRecordType.SharedInfo when !IsPv:
                    Fail(r, $"{r.Name} record in an HVM guest's image (it is for PV guests)");
                    break;
                case LibxcRecordType.HvmContext or LibxcRecordType.HvmParams when IsPv:
                    Fail(r, $"{r.Name} record in a PV guest's image (it is for HVM guests)");
                    break;
            }
        }

        /// <summary>Records a restore applies once per stream, or once per checkpoint in a checkpointed stream.</summary>
        private void CheckOncePerSegment(ImageRecord r, LibxcRecordType type)
        {
            if (type is LibxcRecordType.X86TscInfo or LibxcRecordType.SharedInfo or LibxcRecordType.HvmContext
                or LibxcRecordType.HvmParams or LibxcRecordType.X86PvP2mFrames && !_segmentRecords.Add(r.Type))
                Fail(r, $"a second {r.Name} record {(_checkpoints > 0 ? "in one checkpoint" : "in the stream")}");
        }

        private void CheckPageData(ImageRecord r)
        {
            RequireDynamicPhase(r);
            if (IsPv && !_p2mFrames) Fail(r, "PAGE_DATA before X86_PV_P2M_FRAMES (a PV restore needs the P2M first)");
            var info = reader.ReadPageDataHeader();
            foreach (var e in info.Entries.Span)
            {
                _pageTypes[e >> StreamLayout.PageTypeShift]++;
                _highestPfn = Math.Max(_highestPfn, (long)PageDataInfo.PfnOf(e));
            }
            _pages += info.PagesWithContents;
            if (options.PageSink is { } sink)
                foreach (var page in reader.ReadPages())
                    sink(page);
        }

        private void CheckPvInfo(ImageRecord r)
        {
            RequireLength(r, StreamLayout.X86PvInfoLength);
            RequireStaticPhase(r);
            if (_pvInfo) Fail(r, "a second X86_PV_INFO record");
            _pvInfo = true;
            Span<byte> pv = stackalloc byte[StreamLayout.X86PvInfoLength];
            reader.ReadBody(pv);
            if (pv[0] is not (4 or 8)) Fail(r, $"X86_PV_INFO guest width {pv[0]}, expected 4 or 8");
            if (pv[1] is not (3 or 4)) Fail(r, $"X86_PV_INFO page-table levels {pv[1]}, expected 3 or 4");
            if (pv[2..].ContainsAnyExcept((byte)0)) Fail(r, "X86_PV_INFO has its reserved fields set");
        }

        private void CheckPvVcpu(ImageRecord r, LibxcRecordType type)
        {
            if (r.Length < StreamLayout.X86PvVcpuHeaderLength) Fail(r, $"{r.Name} record of {r.Length} bytes is shorter than its vcpu header");
            if (!_p2mFrames) Fail(r, $"{r.Name} before X86_PV_P2M_FRAMES (vCPU state follows the memory)");
            var vcpu = ReadU32(r, libxl: false);
            if (ReadU32(r, libxl: false) != 0) Fail(r, $"{r.Name} has its reserved field set");
            if (type == LibxcRecordType.X86PvVcpuBasic) _pvVcpus.Add(vcpu);
        }

        private void CheckTscInfo(ImageRecord r)
        {
            RequireLength(r, StreamLayout.X86TscInfoLength);
            Span<byte> tsc = stackalloc byte[StreamLayout.X86TscInfoLength];
            reader.ReadBody(tsc);
            if (tsc[20..].ContainsAnyExcept((byte)0)) Fail(r, "X86_TSC_INFO has its reserved field set");
        }

        private void CheckHvmParams(ImageRecord r)
        {
            if (r.Length < StreamLayout.HvmParamsHeaderLength) Fail(r, $"HVM_PARAMS record of {r.Length} bytes is shorter than its header");
            var count = ReadU32(r, libxl: false);
            if (ReadU32(r, libxl: false) != 0) Fail(r, "HVM_PARAMS has its reserved field set");
            var expected = StreamLayout.HvmParamsHeaderLength + (long)count * StreamLayout.HvmParamEntryLength;
            if (r.Length != expected) Fail(r, $"HVM_PARAMS length {r.Length}, expected {expected} for {count} parameters");
        }

        /// <summary>The CPUID and MSR policies: stream v3 only, static phase, whole entries, once.</summary>
        private void CheckPolicy(ImageRecord r, uint version, int entryLength, ref bool seen)
        {
            RequireVersion3(r, version);
            RequireStaticPhase(r);
            RequireMultiple(r, entryLength);
            if (seen) Fail(r, $"a second {r.Name} record");
            seen = true;
        }

        /// <summary>Counts the CPU entries of Xen's HVM save blob; a blob that does not parse counts what it has.</summary>
        private int CountHvmCpus(ImageRecord r)
        {
            var cpus = 0;
            Span<byte> descriptor = stackalloc byte[StreamLayout.HvmSaveDescriptorLength];
            while (reader.BodyRemaining >= descriptor.Length)
            {
                reader.ReadBody(descriptor);
                var typecode = BinaryPrimitives.ReadUInt16LittleEndian(descriptor);
                var length = BinaryPrimitives.ReadUInt32LittleEndian(descriptor[4..]);
                if (typecode == StreamLayout.HvmSaveTypeEnd || length > reader.BodyRemaining) break;
                if (typecode == StreamLayout.HvmSaveTypeCpu) cpus++;
                for (var left = (long)length; left > 0;)
                    left -= reader.ReadBody(_buffer.AsSpan(0, (int)Math.Min(_buffer.Length, left)));
            }
            return cpus;
        }

        /// <summary>v3 streams end their static part with STATIC_DATA_END; a v2 stream's ends where its memory starts.</summary>
        private void RequireDynamicPhase(ImageRecord r)
        {
            if (_staticDataEnd) return;
            if (_libxc!.Version < StreamLayout.LibxcVersionStaticData) _staticDataEnd = true;
            else Fail(r, $"{r.Name} before STATIC_DATA_END (a v3 stream ends its static data first)");
        }

        private void RequireStaticPhase(ImageRecord r)
        {
            if (_staticDataEnd) Fail(r, $"{r.Name} after the end of the static data (it belongs before STATIC_DATA_END)");
        }

        private static void RequireVersion3(ImageRecord r, uint version)
        {
            if (version < StreamLayout.LibxcVersionStaticData) Fail(r, $"{r.Name} record in a libxc v{version} stream (it exists from v3)");
        }

        private static void RequireLength(ImageRecord r, long length)
        {
            if (r.Length != length) Fail(r, $"{r.QualifiedName} record length {r.Length}, expected {length}");
        }

        private static void RequireMultiple(ImageRecord r, int unit)
        {
            if (r.Length < unit || r.Length % unit != 0) Fail(r, $"{r.Name} length {r.Length}, expected a non-zero multiple of {unit}");
        }

        private uint ReadU32(ImageRecord r, bool libxl)
        {
            Span<byte> b = stackalloc byte[4];
            if (reader.ReadBody(b) < 4) Fail(r, $"{r.Name} record is too short");
            var big = libxl ? reader.LibxlHeader?.IsBigEndian ?? false : _libxc?.IsBigEndian ?? false;
            return big ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);
        }

        private static void Fail(ImageRecord r, string message) =>
            throw new XenFormatException(FormatError.InvalidImage, message, r.Offset) { RecordIndex = r.Index };
    }
}
