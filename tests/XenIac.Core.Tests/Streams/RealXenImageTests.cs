using System.Text.RegularExpressions;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;
using XenIac.Tests;

namespace XenIac.Core.Tests.Streams;

/// <summary>The images real xl wrote on Xen 4.17 read exactly as Xen's own checker described them (meta/*.verify.txt).</summary>
public sealed partial class RealXenImageTests
{
    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var n in SharedFixtures.RealSavefileNames()) data.Add(n);
        if (data.Count == 0) data.Add("(fixtures absent)");
        return data;
    }

    /// <summary>verify-stream-v2's names for the records, mapped to the specs' names XenIac uses.</summary>
    private static readonly Dictionary<string, string> CheckerNames = new()
    {
        ["Libxl End"] = "libxl:END", ["Libxl Libxc context"] = "libxl:LIBXC_CONTEXT",
        ["Libxl Emulator xenstore data"] = "libxl:EMULATOR_XENSTORE_DATA", ["Libxl Emulator context"] = "libxl:EMULATOR_CONTEXT",
        ["Libxl Checkpoint end"] = "libxl:CHECKPOINT_END", ["Libxl Checkpoint state"] = "libxl:CHECKPOINT_STATE",
        ["Libxc End"] = "libxc:END", ["Libxc x86 PV info"] = "libxc:X86_PV_INFO", ["Libxc x86 PV P2M frames"] = "libxc:X86_PV_P2M_FRAMES",
        ["Libxc x86 PV vcpu basic"] = "libxc:X86_PV_VCPU_BASIC", ["Libxc x86 PV vcpu extended"] = "libxc:X86_PV_VCPU_EXTENDED",
        ["Libxc x86 PV vcpu xsave"] = "libxc:X86_PV_VCPU_XSAVE", ["Libxc x86 PV vcpu msrs"] = "libxc:X86_PV_VCPU_MSRS",
        ["Libxc Shared info"] = "libxc:SHARED_INFO", ["Libxc TSC info"] = "libxc:X86_TSC_INFO", ["Libxc HVM context"] = "libxc:HVM_CONTEXT",
        ["Libxc HVM params"] = "libxc:HVM_PARAMS", ["Libxc Static data end"] = "libxc:STATIC_DATA_END",
        ["Libxc x86 CPUID policy"] = "libxc:X86_CPUID_POLICY", ["Libxc x86 MSR policy"] = "libxc:X86_MSR_POLICY",
        ["Libxc Checkpoint"] = "libxc:CHECKPOINT", ["Libxc Verify"] = "libxc:VERIFY",
    };

    [SkippableTheory]
    [MemberData(nameof(Names))]
    public void Real_savefile_verifies_and_summarises_as_xens_checker_says(string name)
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        var expected = File.ReadAllLines(Path.Combine(SharedFixtures.RealXenDir!, "meta", name + ".verify.txt"));

        using var saveFile = SaveFileReader.Open(SharedFixtures.RealSavefile(name));
        var result = SaveFileVerification.Verify(saveFile);

        Assert.True(result.IsValid, result.Problem?.ToString());
        var s = result.Summary;
        var domain = expected.Single(l => l.StartsWith("Domain Header:", StringComparison.Ordinal));
        Assert.Equal(domain.Contains("PV") ? GuestType.PV : GuestType.HVM, s.GuestType);
        Assert.Equal("4.17", s.XenVersion);
        Assert.Contains($"from Xen {s.XenVersion}", domain);
        Assert.Equal(12, s.PageShift);
        Assert.Equal(3u, s.LibxcVersion);
        Assert.Equal(1, s.VCpus); // both lab guests had one vCPU
        Assert.Equal(0, s.Checkpoints);

        // Record by record: names and lengths, PAGE_DATA runs squashed the way the checker prints them.
        Assert.Equal(CheckerSequence(expected), OurSequence(saveFile.Header.ImageOffset, name));
        var pageRecords = expected.Select(l => SquashedRegex().Match(l)).Where(m => m.Success).Sum(m => long.Parse(m.Groups[1].Value));
        Assert.Equal(pageRecords, s.Records["libxc:PAGE_DATA"]);
        // Pages with contents are the NOTAB and page-table entries; the HVM guest's are all ordinary pages (its
        // address-space holes go out as XTAB), the PV guest's include its page tables.
        Assert.Equal(s.Pages, s.PagesByType.Where(p => p.Key is not ("BROKEN" or "XALLOC" or "XTAB")).Sum(p => p.Value));
        if (s.GuestType == GuestType.HVM) Assert.Equal(s.Pages, s.PagesByType["NOTAB"]);
        else Assert.Contains(s.PagesByType.Keys, k => k.EndsWith("TAB_PIN", StringComparison.Ordinal) || k is "L1TAB" or "L2TAB" or "L3TAB" or "L4TAB");
        Assert.True(s.Pages > (s.GuestType == GuestType.PV ? 20_000 : 7_000), $"only {s.Pages} pages");
    }

    [SkippableFact]
    public void Pv_real_savefile_pages_can_be_read_back_with_their_pfns()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        using var saveFile = SaveFileReader.Open(SharedFixtures.RealSavefile("pv-plain.xlsave"));
        using var reader = saveFile.OpenImage();
        var marker = "XL-SAVEFILE-FIXTURE-MARKER-0123456789abcdef-"u8.ToArray();
        long pages = 0, markerPages = 0;
        var pfns = new HashSet<ulong>();
        while (reader.MoveNext())
        {
            if (!reader.Current.Is(LibxcRecordType.PageData)) continue;
            foreach (var page in reader.ReadPages())
            {
                pages++;
                pfns.Add(page.Pfn);
                Assert.Equal(4096, page.Contents.Length);
                if (page.Contents.Span.IndexOf(marker) >= 0) markerPages++;
            }
        }
        // 96 MiB guest: 24576 pfns; the guest wrote its marker lines (808090 bytes) into its ramfs.
        Assert.Equal(24576, pfns.Count);
        Assert.Equal(pages, pfns.Count);
        Assert.True(markerPages >= 808090 / 4096, $"marker found in {markerPages} pages");
    }

    [SkippableTheory]
    [MemberData(nameof(Names))]
    public void Corrupting_a_record_header_byte_is_reported_at_that_record(string name)
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        var path = SharedFixtures.RealSavefile(name);
        long imageOffset;
        List<ImageRecord> records = [];
        using (var saveFile = SaveFileReader.Open(path))
        using (var reader = saveFile.OpenImage())
        {
            imageOffset = saveFile.ImageOffset;
            while (reader.MoveNext()) records.Add(reader.Current);
        }
        var rng = new Random(7);
        var sample = records.Take(4).Concat(records.TakeLast(4)).Concat(Enumerable.Range(0, 6).Select(_ => records[rng.Next(records.Count)]))
            .Distinct().ToList();
        string[] exactLength = ["PAGE_DATA", "END", "STATIC_DATA_END", "LIBXC_CONTEXT", "X86_TSC_INFO", "SHARED_INFO", "X86_PV_INFO"];
        foreach (var record in sample)
        {
            for (var b = 0; b < 8; b++)
            {
                var at = record.Offset + b;
                byte old;
                using (var f = File.OpenRead(path)) { f.Position = at; old = (byte)f.ReadByte(); }
                var value = (byte)(old ^ rng.Next(1, 256));
                using var patched = new PatchedStream(File.OpenRead(path), at, value);
                using var saveFile = SaveFileReader.Open(patched);
                var result = SaveFileVerification.Verify(saveFile);

                var what = $"{record} byte {b} 0x{old:x2}->0x{value:x2}";
                Assert.False(result.IsValid, what);
                Assert.NotNull(result.Problem!.Offset);
                Assert.True(result.Problem.Offset >= record.Offset, $"{what}: reported at {result.Problem.Offset}: {result.Problem.Message}");
                var newType = b < 4 ? (record.Type & ~(0xffu << (8 * b))) | ((uint)value << (8 * b)) : record.Type;
                var exact = b < 4 ? !new ImageRecord(record.Layer, newType, 0, 0, 0).IsKnown : exactLength.Contains(record.Name);
                if (exact)
                {
                    Assert.True(record.Offset == result.Problem.Offset, $"{what}: reported at {result.Problem.Offset}: {result.Problem.Message}");
                    Assert.Equal(record.Index, result.Problem.RecordIndex);
                }
            }
        }
        Assert.True(imageOffset > 48);
    }

    private static List<string> CheckerSequence(string[] lines)
    {
        var list = new List<string>();
        foreach (var line in lines)
        {
            if (SquashedRegex().Match(line) is { Success: true } sq) list.Add($"libxc:PAGE_DATA x{sq.Groups[1].Value}");
            else if (RecordRegex().Match(line) is { Success: true } m)
                list.Add($"{CheckerNames[m.Groups[1].Value + " " + m.Groups[2].Value]} {m.Groups[3].Value}");
        }
        return list;
    }

    private static List<string> OurSequence(long imageOffset, string name)
    {
        using var saveFile = SaveFileReader.Open(SharedFixtures.RealSavefile(name));
        using var reader = saveFile.OpenImage();
        Assert.Equal(imageOffset, reader.Position);
        var list = new List<string>();
        var run = 0;
        while (reader.MoveNext())
        {
            var r = reader.Current;
            if (r.Is(LibxcRecordType.PageData)) { run++; continue; }
            if (run > 0) { list.Add($"libxc:PAGE_DATA x{run}"); run = 0; }
            list.Add($"{r.QualifiedName} {r.Length}");
        }
        return list;
    }

    [GeneratedRegex(@"^(Libxl|Libxc) Record: (.+), length (\d+)$")]
    private static partial Regex RecordRegex();

    [GeneratedRegex(@"^Squashed (\d+) Page Data records together$")]
    private static partial Regex SquashedRegex();
}
