using System.Text;
using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;
using XenIac.Tests;

namespace XenIac.Core.Tests.Streams;

/// <summary>
/// examples/savefiles/demo.xlsave is a small HVM savefile made by <see cref="ImageStreamWriter"/>. The test rebuilds
/// it and compares byte for byte, so the example cannot drift from the writer; XENIAC_REGENERATE_EXAMPLES=1
/// rewrites it instead.
/// </summary>
public sealed class ExampleSavefileTests
{
    private const string Config =
        "{\n    \"c_info\": {\n        \"type\": \"hvm\",\n        \"name\": \"demo-hvm\"\n    },\n    \"b_info\": {\n        \"max_vcpus\": 1,\n" +
        "        \"avail_vcpus\": [\n            0\n        ],\n        \"max_memkb\": 32768,\n        \"target_memkb\": 32768,\n" +
        "        \"type.hvm\": {\n            \"vga\": {\n                \"kind\": \"none\"\n            },\n            \"serial\": \"none\",\n" +
        "            \"boot\": \"c\"\n        }\n    },\n    \"on_reboot\": \"restart\"\n}\n";

    private static string ExamplePath => Path.Combine(SharedFixtures.RepoRoot, "examples", "savefiles", "demo.xlsave");

    /// <summary>Low memory, the VGA hole sent as XTAB like Xen does, and the BIOS at the top of the first MiB.</summary>
    private static readonly ulong[] Pfns = [0x0, 0x1, 0x2, 0x7, 0x8, 0x9f, 0xa0, 0xa1, 0xf0, 0xfe, 0xff];

    private static byte[] Build()
    {
        var description = new DomainImageDescription
        {
            GuestType = GuestType.HVM,
            VCpus = 1,
            Pfns = Pfns,
            PageTypes = pfn => pfn is 0xa0 or 0xa1 ? PageType.XTab : PageType.NoTab,
            FillPage = (pfn, page) =>
            {
                var text = Encoding.ASCII.GetBytes($"demo-hvm guest page 0x{pfn:x5}\n");
                for (var at = 0; at + text.Length <= page.Length; at += text.Length) text.CopyTo(page[at..]);
            },
            CpuidPolicy = new byte[24 * 4],
            MsrPolicy = new byte[16],
            TscKhz = 2_596_153,
            TscNanoseconds = 12_380_078_201,
            TscIncarnation = 1,
            HvmParams = [new(2, 0xfeffc), new(5, 0), new(12, 0xfefff)],
            EmulatorContext = Encoding.ASCII.GetBytes("QEVM demo-hvm device model state (placeholder, no devices)\n"),
        };
        using var ms = new MemoryStream();
        SaveFileWriter.WriteHeader(ms, SaveFileHeader.Create(Config, SaveFileConfigFormat.Json));
        ImageStreamWriter.Write(ms, description);
        return ms.ToArray();
    }

    [Fact]
    public void Committed_example_is_the_writers_demo_hvm_image_and_verifies()
    {
        var built = Build();
        if (Environment.GetEnvironmentVariable("XENIAC_REGENERATE_EXAMPLES") == "1") File.WriteAllBytes(ExamplePath, built);
        var committed = File.ReadAllBytes(ExamplePath);
        Assert.True(committed.AsSpan().SequenceEqual(built), "examples/savefiles/demo.xlsave differs from what the writer makes (XENIAC_REGENERATE_EXAMPLES=1 rewrites it)");
        Assert.InRange(committed.Length, 1, 256 * 1024);

        using var saveFile = SaveFileReader.Open(ExamplePath);
        Assert.Equal("demo-hvm", System.Text.Json.JsonDocument.Parse(saveFile.Header.ConfigText!).RootElement.GetProperty("c_info").GetProperty("name").GetString());
        var result = SaveFileVerification.Verify(saveFile);
        Assert.True(result.IsValid, result.Problem?.ToString());
        Assert.Equal(GuestType.HVM, result.Summary.GuestType);
        Assert.Equal(1, result.Summary.VCpus);
        Assert.Equal(Pfns.Length - 2, result.Summary.Pages);
        Assert.Equal(2, result.Summary.PagesByType["XTAB"]);
        Assert.Equal(1, result.Summary.Records["libxl:EMULATOR_CONTEXT"]);
    }

    [SkippableFact]
    public void Committed_example_passes_xens_own_checker()
    {
        Skip.IfNot(ReferenceChecker.Available, ReferenceChecker.MissingReason);
        var (rc, output) = ReferenceChecker.Run(ExamplePath);
        Assert.True(rc == 0, output);
        Assert.Contains("Domain Header: x86 HVM from Xen 4.17", output);
    }
}
