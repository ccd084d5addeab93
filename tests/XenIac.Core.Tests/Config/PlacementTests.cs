using XenIac.Core.Config;
using XenIac.Core.SaveFiles;
using XenIac.Core.Streams;
using XenIac.Tests;

namespace XenIac.Core.Tests.Config;

public sealed class PlacementTests
{
    private static readonly PlacementTarget Amd417 = new("host-a", new Version(4, 17), "AuthenticAMD", 4L << 20);

    private static DomainConfig Xl(string text) => DomainConfig.Parse(text, "test.cfg");

    private const string Hvm = "name = \"g\"\ntype = \"hvm\"\nmemory = 512\nvcpus = 1\n";

    /// <summary>A small HVM savefile whose CPUID policy names <paramref name="vendor"/> (or has none), as the stream writer makes it.</summary>
    internal static byte[] Savefile(string? vendor, string config = Hvm)
    {
        var description = new DomainImageDescription
        {
            GuestType = GuestType.HVM,
            VCpus = 1,
            Pfns = [0, 1, 2],
            CpuidPolicy = vendor is null ? null : (byte[])[.. Placement.VendorLeaf(vendor), .. new byte[24]],
            MsrPolicy = new byte[16],
        };
        using var ms = new MemoryStream();
        SaveFileWriter.WriteHeader(ms, SaveFileHeader.Create(config, SaveFileConfigFormat.XlCfg));
        ImageStreamWriter.Write(ms, description);
        return ms.ToArray();
    }

    private static string? VendorOf(byte[] savefile)
    {
        using var reader = SaveFileReader.Open(new MemoryStream(savefile));
        return Placement.ReadCpuVendor(reader);
    }

    [Fact]
    public void Vendor_is_read_from_the_cpuid_policy_record()
    {
        Assert.Equal("GenuineIntel", VendorOf(Savefile("GenuineIntel")));
        Assert.Equal("AuthenticAMD", VendorOf(Savefile("AuthenticAMD")));
        Assert.Null(VendorOf(Savefile(null)));
    }

    [Fact]
    public void Vendor_pass_stops_before_the_pages_and_reads_no_page_data()
    {
        // A stream that counts what is read: the pass must stop at STATIC_DATA_END, long before the image's end.
        var bytes = Savefile("GenuineIntel");
        var counting = new CountingStream(new MemoryStream(bytes));
        using (var reader = SaveFileReader.Open(counting, leaveOpen: true))
            Assert.Equal("GenuineIntel", Placement.ReadCpuVendor(reader));
        Assert.True(counting.BytesRead < bytes.Length - 3 * 4096, $"read {counting.BytesRead} of {bytes.Length} bytes");
    }

    [Fact]
    public void Another_vendor_blocks_and_names_both()
    {
        var findings = Placement.Check(new PlacementSubject("GenuineIntel", Xl(Hvm)), Amd417);
        var f = Assert.Single(findings);
        Assert.Equal(FindingSeverity.Error, f.Severity);
        Assert.Equal("cpu.vendor", f.Setting);
        Assert.Equal(("GenuineIntel", "AuthenticAMD"), (f.Old, f.New));
        Assert.Contains("GenuineIntel", f.Reason);
        Assert.Contains("AuthenticAMD", f.Reason);
        Assert.Contains("host-a", f.Reason);
        Assert.False(Placement.Fits(findings));
    }

    [Theory]
    [InlineData("AuthenticAMD")]
    [InlineData(null)]
    [InlineData(Placement.UnknownVendor)]
    public void Same_or_unknown_vendor_passes(string? vendor) =>
        Assert.Empty(Placement.Check(new PlacementSubject(vendor, Xl(Hvm)), Amd417));

    [Fact]
    public void Unknown_target_vendor_is_not_a_mismatch() =>
        Assert.Empty(Placement.Check(new PlacementSubject("GenuineIntel", null), Amd417 with { CpuVendor = Placement.UnknownVendor }));

    [Theory]
    [InlineData(4, 20, false)]
    [InlineData(4, 21, true)]
    [InlineData(4, 22, true)]
    public void Qemu_traditional_is_blocked_from_4_21(int major, int minor, bool blocked)
    {
        var config = Xl(Hvm + "device_model_version = \"qemu-xen-traditional\"\n");
        var findings = Placement.Check(new PlacementSubject(null, config), Amd417 with { XenRelease = new Version(major, minor) });
        Assert.Equal(blocked, findings.Any(f => f is { Setting: "device_model_version", Severity: FindingSeverity.Error }));
        if (blocked) Assert.Contains("removed in Xen 4.21", findings.Single().Reason);
    }

    [Fact]
    public void Qemu_traditional_in_a_stored_json_config_is_blocked()
    {
        var json = "{\"c_info\":{\"type\":\"hvm\",\"name\":\"g\"},\"b_info\":{\"max_memkb\":32768,\"target_memkb\":32768,\"device_model_version\":\"qemu_xen_traditional\"}}";
        var findings = Placement.Check(new PlacementSubject(null, DomainConfig.Parse(json)), Amd417 with { XenRelease = new Version(4, 21) });
        Assert.Equal("device_model_version", Assert.Single(findings).Setting);
    }

    [Fact]
    public void Qemu_upstream_passes_on_4_21() =>
        Assert.Empty(Placement.Check(new PlacementSubject(null, Xl(Hvm + "device_model_version = \"qemu-xen\"\n")), Amd417 with { XenRelease = new Version(4, 21) }));

    [Fact]
    public void Newer_keys_are_named_as_warnings_when_the_target_is_older()
    {
        var config = Xl(Hvm + "hvm_pirq = 1\nxen_platform_pci_bar_uc = 0\nsmbios = [ \"bios_vendor=x\" ]\n");
        var on417 = Placement.Check(new PlacementSubject(null, config), Amd417);
        Assert.All(on417, f => Assert.Equal(FindingSeverity.Warning, f.Severity));
        Assert.Equal(["hvm_pirq", "smbios", "xen_platform_pci_bar_uc"], on417.Select(f => f.Setting).Order(StringComparer.Ordinal));
        Assert.Contains("came in Xen 4.19", on417.Single(f => f.Setting == "hvm_pirq").Reason);

        var vlan = Placement.Check(new PlacementSubject(null, Xl(Hvm + "vif = [ \"mac=00:16:3e:00:00:01,vlan=7\" ]\n")), Amd417);
        Assert.Equal("vif[0].vlan", Assert.Single(vlan).Setting);
        Assert.True(Placement.Fits(on417));

        var on419 = Placement.Check(new PlacementSubject(null, config), Amd417 with { XenRelease = new Version(4, 19) });
        Assert.Equal("xen_platform_pci_bar_uc", Assert.Single(on419).Setting);
        Assert.Empty(Placement.Check(new PlacementSubject(null, config), Amd417 with { XenRelease = new Version(4, 21) }));
    }

    [Fact]
    public void Newer_json_keys_are_named_but_libxls_written_defaults_are_not()
    {
        var json = "{\"c_info\":{\"type\":\"hvm\",\"name\":\"g\"},\"b_info\":{\"max_memkb\":32768,\"target_memkb\":32768," +
                   "\"xenstore_feature_mask\":4294967295,\"altp2m_count\":10,\"trap_unmapped_accesses\":\"True\"}}";
        var findings = Placement.Check(new PlacementSubject(null, DomainConfig.Parse(json)), Amd417);
        var named = findings.Select(f => f.Setting).ToList();
        Assert.Contains(named, s => s.EndsWith("altp2m_count", StringComparison.Ordinal));
        Assert.Contains(named, s => s.EndsWith("trap_unmapped_accesses", StringComparison.Ordinal));
        Assert.DoesNotContain(named, s => s.Contains("xenstore_feature_mask", StringComparison.Ordinal));
    }

    [Fact]
    public void Unknown_release_skips_the_version_rules() =>
        Assert.Empty(Placement.Check(new PlacementSubject(null, Xl(Hvm + "device_model_version = \"qemu-xen-traditional\"\nhvm_pirq = 1\n")),
            Amd417 with { XenRelease = null }));

    [Theory]
    [InlineData(512, 511, true)]
    [InlineData(512, 512, false)]
    [InlineData(512, 4096, false)]
    public void Memory_above_free_blocks(long memoryMiB, long freeMiB, bool blocked)
    {
        var findings = Placement.Check(new PlacementSubject(null, Xl(Hvm.Replace("512", memoryMiB.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal))),
            Amd417 with { FreeMemoryKiB = freeMiB * 1024 });
        Assert.Equal(blocked, findings.Any(f => f is { Setting: "memory", Severity: FindingSeverity.Error }));
        if (blocked) Assert.Equal("the domain needs 512 MiB and host-a has 511 MiB free", findings.Single().Reason);
    }

    [Fact]
    public void Memory_counts_maxmem_and_an_explicit_size_wins()
    {
        var config = Xl(Hvm + "maxmem = 1024\n");
        Assert.Contains(Placement.Check(new PlacementSubject(null, config), Amd417 with { FreeMemoryKiB = 800 * 1024 }), f => f.Setting == "memory");
        Assert.Empty(Placement.Check(new PlacementSubject(null, config, MemoryKiB: 100 * 1024), Amd417 with { FreeMemoryKiB = 800 * 1024 }));
        Assert.Empty(Placement.Check(new PlacementSubject(null, config), Amd417 with { FreeMemoryKiB = -1 }));
    }

    [Fact]
    public void Every_new_key_is_after_the_baseline() =>
        Assert.All(Placement.NewConfigKeys, k => Assert.True(k.Since > Placement.Baseline, k.XlKey));

    [SkippableTheory]
    [InlineData("pv-plain.xlsave")]
    [InlineData("hvm-checkpoint.xlsave")]
    public void Real_xen_savefiles_name_the_vendor_of_the_machine_that_made_them(string name)
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        // Made under QEMU's qemu64 CPU, whose vendor is AMD's (README: -cpu qemu64,+npt).
        Assert.Equal("AuthenticAMD", Placement.ReadCpuVendor(SharedFixtures.RealSavefile(name)));
    }

    [SkippableFact]
    public void A_real_savefile_with_its_vendor_rewritten_is_blocked_on_the_other_vendor()
    {
        Skip.If(SharedFixtures.RealXenDir is null, SharedFixtures.MissingReason);
        var bytes = File.ReadAllBytes(SharedFixtures.RealSavefile("pv-plain.xlsave"));
        RewriteVendor(bytes, "GenuineIntel");
        using var reader = SaveFileReader.Open(new MemoryStream(bytes));
        var vendor = Placement.ReadCpuVendor(reader);
        Assert.Equal("GenuineIntel", vendor);
        Assert.Equal("cpu.vendor", Assert.Single(Placement.Check(new PlacementSubject(vendor, null), Amd417)).Setting);
        using var again = SaveFileReader.Open(new MemoryStream(bytes));
        Assert.True(again.VerifyImage().IsValid);
    }

    /// <summary>Rewrites leaf 0's vendor in the savefile's CPUID policy record in place (same length, so nothing else moves).</summary>
    internal static void RewriteVendor(byte[] savefile, string vendor)
    {
        long bodyAt;
        using (var reader = SaveFileReader.Open(new MemoryStream(savefile)))
        using (var image = reader.OpenImage())
        {
            while (image.MoveNext() && !image.Current.Is(LibxcRecordType.X86CpuidPolicy)) { }
            Assert.True(image.Current.Is(LibxcRecordType.X86CpuidPolicy), "no CPUID policy record");
            bodyAt = image.Current.Offset + StreamLayout.RecordHeaderLength;
        }
        var leaves = savefile.AsSpan((int)bodyAt);
        for (var at = 0; ; at += StreamLayout.X86CpuidLeafLength)
        {
            if (BitConverter.ToUInt32(leaves[at..]) != 0) continue;
            var replacement = Placement.VendorLeaf(vendor);
            replacement.AsSpan(12, 12).CopyTo(leaves[(at + 12)..]);
            return;
        }
    }

    private sealed class CountingStream(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }
        public override bool CanRead => true;
        public override bool CanSeek => inner.CanSeek;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => inner.Position = value; }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = inner.Read(buffer, offset, count);
            BytesRead += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static byte[] WrittenBy(GuestType type, uint minor)
    {
        var description = new DomainImageDescription
        {
            GuestType = type, VCpus = 1, Pfns = [0, 1], XenMajor = 4, XenMinor = minor,
            CpuidPolicy = (byte[])[.. Placement.VendorLeaf("AuthenticAMD"), .. new byte[24]], MsrPolicy = new byte[16],
        };
        using var ms = new MemoryStream();
        SaveFileWriter.WriteHeader(ms, SaveFileHeader.Create(type == GuestType.PV ? Hvm.Replace("hvm", "pv") : Hvm, SaveFileConfigFormat.XlCfg));
        ImageStreamWriter.Write(ms, description);
        return ms.ToArray();
    }

    private static SavedImage ImageOf(byte[] savefile)
    {
        using var reader = SaveFileReader.Open(new MemoryStream(savefile));
        return Placement.ReadImage(reader);
    }

    [Fact]
    public void The_image_pass_reads_the_writing_xen_release_and_the_guest_type()
    {
        Assert.Equal(new SavedImage("AuthenticAMD", new Version(4, 20), Hvm: true), ImageOf(WrittenBy(GuestType.HVM, 20)));
        Assert.Equal(new SavedImage("AuthenticAMD", new Version(4, 17), Hvm: false), ImageOf(WrittenBy(GuestType.PV, 17)));
    }

    [Fact]
    public void An_HVM_image_from_a_newer_Xen_is_blocked_on_an_older_one_and_PV_or_older_images_are_not()
    {
        // What the lab saw: Xen 4.17 refuses 4.20's HVM state ("HVM restore mismatch"); PV moved both ways.
        var hvm420 = ImageOf(WrittenBy(GuestType.HVM, 20));
        var findings = Placement.Check(new PlacementSubject(hvm420.CpuVendor, Xl(Hvm)) { Image = hvm420 }, Amd417);
        var f = Assert.Single(findings);
        Assert.Equal((FindingSeverity.Error, "image.xen_version", "Xen 4.20", "Xen 4.17"), (f.Severity, f.Setting, f.Old, f.New));
        Assert.Contains("host-a runs Xen 4.17", f.Reason);
        Assert.False(Placement.Fits(findings));

        var pv420 = ImageOf(WrittenBy(GuestType.PV, 20));
        Assert.Empty(Placement.Check(new PlacementSubject(pv420.CpuVendor, Xl(Hvm.Replace("hvm", "pv"))) { Image = pv420 }, Amd417));
        var hvm417 = ImageOf(WrittenBy(GuestType.HVM, 17));
        Assert.Empty(Placement.Check(new PlacementSubject(hvm417.CpuVendor, Xl(Hvm)) { Image = hvm417 },
            Amd417 with { XenRelease = new Version(4, 20) }));
    }
}
