using System.Buffers.Binary;

namespace XenIac.Core.Streams;

/// <summary>
/// Writes a libxl stream v2 carrying a libxc v3 stream for an x86 PV or HVM guest, in the record order Xen 4.17's
/// saver uses, little-endian. Pages go out in PAGE_DATA records of up to 1024 pages through one reusable buffer.
/// </summary>
public static class ImageStreamWriter
{
    internal const int PvVcpuBasicContextLength = 5168;
    internal const int PvVcpuExtendedContextLength = 64;
    internal const int HvmCpuEntryLength = 1024;
    private const int PageSize = 1 << StreamLayout.X86PageShift;

    /// <summary>Writes the image; returns the bytes written.</summary>
    /// <exception cref="ArgumentException">The description is inconsistent (no guest type, no vCPU, short memory source).</exception>
    public static long Write(Stream destination, DomainImageDescription description)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(description);
        if (description.GuestType is GuestType.Unknown) throw new ArgumentException("The guest type must be PV, HVM or PVH.", nameof(description));
        if (description.VCpus < 1) throw new ArgumentException("A domain has at least one vCPU.", nameof(description));
        if (description.Pfns is null && description.PageCount < 0) throw new ArgumentException("PageCount is negative.", nameof(description));
        var w = new Writer(destination);
        w.Write(description);
        return w.Written;
    }

    private sealed class Writer(Stream output)
    {
        private readonly byte[] _small = new byte[64];
        private byte[] _batch = [];

        public long Written { get; private set; }

        public void Write(DomainImageDescription d)
        {
            var header = _small.AsSpan(0, StreamLayout.LibxlHeaderLength);
            BinaryPrimitives.WriteUInt64BigEndian(header, StreamLayout.LibxlIdent);
            BinaryPrimitives.WriteUInt32BigEndian(header[8..], StreamLayout.LibxlVersion);
            BinaryPrimitives.WriteUInt32BigEndian(header[12..], 0);
            Put(header);
            Record((uint)LibxlRecordType.LibxcContext, []);
            WriteLibxc(d);
            if (!d.IsPv && d.EmulatorContext is { } emulator)
            {
                var body = new byte[StreamLayout.EmulatorHeaderLength + emulator.Length];
                BinaryPrimitives.WriteUInt32LittleEndian(body, (uint)EmulatorId.QemuUpstream);
                emulator.Span.CopyTo(body.AsSpan(StreamLayout.EmulatorHeaderLength));
                Record((uint)LibxlRecordType.EmulatorContext, body);
            }
            Record((uint)LibxlRecordType.End, []);
        }

        private void WriteLibxc(DomainImageDescription d)
        {
            WriteLibxcHeaders(d);

            var pfnCount = d.Pfns?.Count ?? d.PageCount;
            ulong maxPfn = 0;
            if (d.Pfns is { } list) foreach (var p in list) maxPfn = Math.Max(maxPfn, p);
            else if (pfnCount > 0) maxPfn = (ulong)pfnCount - 1;

            if (d.IsPv) Record((uint)LibxcRecordType.X86PvInfo, [8, 4, 0, 0, 0, 0, 0, 0]);
            if (d.CpuidPolicy is { } cpuid) Record((uint)LibxcRecordType.X86CpuidPolicy, cpuid.Span);
            if (d.MsrPolicy is { } msr) Record((uint)LibxcRecordType.X86MsrPolicy, msr.Span);
            Record((uint)LibxcRecordType.StaticDataEnd, []);
            if (d.IsPv)
            {
                // One p2m frame (a page of 8-byte entries) per 512 pfns; without a hypervisor there are no real frame numbers.
                var frames = (int)(maxPfn / (PageSize / 8)) + 1;
                var p2m = new byte[8 + frames * 8L];
                BinaryPrimitives.WriteUInt32LittleEndian(p2m.AsSpan(4), (uint)Math.Min(maxPfn, uint.MaxValue));
                Record((uint)LibxcRecordType.X86PvP2mFrames, p2m);
            }
            WritePages(d, pfnCount);

            WriteTscInfo(d);

            WriteVcpuState(d);
            Record((uint)LibxcRecordType.End, []);
        }

        /// <summary>The libxc image header and domain header (big-endian marker, then the domain's own order).</summary>
        private void WriteLibxcHeaders(DomainImageDescription d)
        {
            var h = _small.AsSpan(0, StreamLayout.LibxcImageHeaderLength + StreamLayout.DomainHeaderLength);
            h.Clear();
            BinaryPrimitives.WriteUInt64BigEndian(h, StreamLayout.LibxcMarker);
            BinaryPrimitives.WriteUInt32BigEndian(h[8..], StreamLayout.LibxcIdent);
            BinaryPrimitives.WriteUInt32BigEndian(h[12..], StreamLayout.LibxcVersionMax);
            var dh = h[StreamLayout.LibxcImageHeaderLength..];
            BinaryPrimitives.WriteUInt32LittleEndian(dh, (uint)(d.IsPv ? LibxcDomainType.X86Pv : LibxcDomainType.X86Hvm));
            BinaryPrimitives.WriteUInt16LittleEndian(dh[4..], StreamLayout.X86PageShift);
            BinaryPrimitives.WriteUInt32LittleEndian(dh[8..], d.XenMajor);
            BinaryPrimitives.WriteUInt32LittleEndian(dh[12..], d.XenMinor);
            Put(h);
        }

        private void WriteTscInfo(DomainImageDescription d)
        {
            Span<byte> tsc = stackalloc byte[StreamLayout.X86TscInfoLength];
            tsc.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(tsc, d.TscMode);
            BinaryPrimitives.WriteUInt32LittleEndian(tsc[4..], d.TscKhz);
            BinaryPrimitives.WriteUInt64LittleEndian(tsc[8..], d.TscNanoseconds);
            BinaryPrimitives.WriteUInt32LittleEndian(tsc[16..], d.TscIncarnation);
            Record((uint)LibxcRecordType.X86TscInfo, tsc);
        }

        /// <summary>PV: shared info and per-vCPU contexts; HVM: the context blob and params.</summary>
        private void WriteVcpuState(DomainImageDescription d)
        {
            if (d.IsPv)
            {
                Record((uint)LibxcRecordType.SharedInfo, d.SharedInfo is { } si ? si.Span : new byte[PageSize]);
                for (var v = 0; v < d.VCpus; v++)
                {
                    var basic = d.PvVcpuContext?.Invoke(v) ?? new byte[PvVcpuBasicContextLength];
                    VcpuRecord(LibxcRecordType.X86PvVcpuBasic, v, basic.Span);
                    VcpuRecord(LibxcRecordType.X86PvVcpuExtended, v, new byte[PvVcpuExtendedContextLength]);
                }
            }
            else
            {
                Record((uint)LibxcRecordType.HvmContext, d.HvmContext is { } ctx ? ctx.Span : MinimalHvmContext(d.VCpus));
                if (d.HvmParams is { Count: > 0 } ps)
                {
                    var body = new byte[StreamLayout.HvmParamsHeaderLength + ps.Count * StreamLayout.HvmParamEntryLength];
                    BinaryPrimitives.WriteUInt32LittleEndian(body, (uint)ps.Count);
                    for (var i = 0; i < ps.Count; i++)
                    {
                        var at = StreamLayout.HvmParamsHeaderLength + i * StreamLayout.HvmParamEntryLength;
                        BinaryPrimitives.WriteUInt64LittleEndian(body.AsSpan(at), ps[i].Key);
                        BinaryPrimitives.WriteUInt64LittleEndian(body.AsSpan(at + 8), ps[i].Value);
                    }
                    Record((uint)LibxcRecordType.HvmParams, body);
                }
            }
        }

        private void WritePages(DomainImageDescription d, long pfnCount)
        {
            var maxBatch = (int)Math.Min(StreamLayout.MaxPagesPerRecord, Math.Max(pfnCount, 1));
            var recordMax = StreamLayout.RecordHeaderLength + StreamLayout.PageDataHeaderLength + maxBatch * (8 + PageSize);
            if (_batch.Length < recordMax) _batch = new byte[recordMax];
            var done = 0L;
            var contentsWritten = 0L;
            while (done < pfnCount)
            {
                var n = (int)Math.Min(maxBatch, pfnCount - done);
                var withContents = 0;
                var pfnArea = _batch.AsSpan(StreamLayout.RecordHeaderLength + StreamLayout.PageDataHeaderLength, n * 8);
                var pagesAt = StreamLayout.RecordHeaderLength + StreamLayout.PageDataHeaderLength + n * 8;
                for (var i = 0; i < n; i++)
                {
                    var pfn = d.Pfns?[(int)(done + i)] ?? (ulong)(done + i);
                    if ((pfn & ~StreamLayout.PfnMask) != 0) throw new ArgumentException($"pfn 0x{pfn:x} does not fit in 52 bits.", nameof(d));
                    var type = d.PageTypes?.Invoke(pfn) ?? PageType.NoTab;
                    var entry = pfn | ((ulong)type << StreamLayout.PageTypeShift);
                    BinaryPrimitives.WriteUInt64LittleEndian(pfnArea[(i * 8)..], entry);
                    if (!PageDataInfo.CarriesContents(entry)) continue;
                    // A memory stream fills the batch in one read below; a filler goes page by page.
                    if (d.Memory is null) Fill(d, pfn, _batch.AsSpan(pagesAt + withContents * PageSize, PageSize));
                    contentsWritten++;
                    withContents++;
                }
                if (d.Memory is { } memory && withContents > 0)
                {
                    var area = _batch.AsSpan(pagesAt, withContents * PageSize);
                    var got = memory.ReadAtLeast(area, area.Length, throwOnEndOfStream: false);
                    if (got < area.Length)
                        throw new ArgumentException($"The memory stream ended after {(contentsWritten - withContents) * PageSize + got} bytes, " +
                                                    $"inside page {contentsWritten - withContents + got / PageSize}.", nameof(d));
                }
                var length = StreamLayout.PageDataHeaderLength + n * 8 + withContents * PageSize;
                BinaryPrimitives.WriteUInt32LittleEndian(_batch, (uint)LibxcRecordType.PageData);
                BinaryPrimitives.WriteUInt32LittleEndian(_batch.AsSpan(4), (uint)length);
                BinaryPrimitives.WriteUInt32LittleEndian(_batch.AsSpan(8), (uint)n);
                BinaryPrimitives.WriteUInt32LittleEndian(_batch.AsSpan(12), 0);
                // Whole pages and 8-byte pfns: the record is already 8-byte aligned.
                Put(_batch.AsSpan(0, StreamLayout.RecordHeaderLength + length));
                done += n;
            }
        }

        private static void Fill(DomainImageDescription d, ulong pfn, Span<byte> page)
        {
            if (d.FillPage is { } fill)
            {
                page.Clear();
                fill(pfn, page);
            }
            else
            {
                page.Clear();
            }
        }

        private void VcpuRecord(LibxcRecordType type, int vcpu, ReadOnlySpan<byte> context)
        {
            var body = new byte[StreamLayout.X86PvVcpuHeaderLength + context.Length];
            BinaryPrimitives.WriteUInt32LittleEndian(body, (uint)vcpu);
            context.CopyTo(body.AsSpan(StreamLayout.X86PvVcpuHeaderLength));
            Record((uint)type, body);
        }

        /// <summary>Xen's HVM save layout: a HEADER entry, one CPU entry per vCPU (zeroed here), then END.</summary>
        private static byte[] MinimalHvmContext(int vcpus)
        {
            const int headerBody = 24;
            var d = StreamLayout.HvmSaveDescriptorLength;
            var blob = new byte[d + headerBody + vcpus * (d + HvmCpuEntryLength) + d];
            var s = blob.AsSpan();
            BinaryPrimitives.WriteUInt16LittleEndian(s, StreamLayout.HvmSaveTypeHeader);
            BinaryPrimitives.WriteUInt32LittleEndian(s[4..], headerBody);
            BinaryPrimitives.WriteUInt32LittleEndian(s[d..], StreamLayout.HvmSaveHeaderMagic);
            var at = d + headerBody;
            for (var v = 0; v < vcpus; v++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(s[at..], StreamLayout.HvmSaveTypeCpu);
                BinaryPrimitives.WriteUInt16LittleEndian(s[(at + 2)..], (ushort)v);
                BinaryPrimitives.WriteUInt32LittleEndian(s[(at + 4)..], HvmCpuEntryLength);
                at += d + HvmCpuEntryLength;
            }
            return blob; // the trailing END entry is all zeros
        }

        private void Record(uint type, ReadOnlySpan<byte> body)
        {
            var header = _small.AsSpan(0, StreamLayout.RecordHeaderLength);
            BinaryPrimitives.WriteUInt32LittleEndian(header, type);
            BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)body.Length);
            Put(header);
            Put(body);
            var pad = (int)StreamLayout.Padding(body.Length);
            if (pad > 0)
            {
                var zeros = _small.AsSpan(0, pad);
                zeros.Clear();
                Put(zeros);
            }
        }

        private void Put(ReadOnlySpan<byte> data)
        {
            output.Write(data);
            Written += data.Length;
        }
    }
}
