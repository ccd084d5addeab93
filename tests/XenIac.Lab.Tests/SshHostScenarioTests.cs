using System.Text.Json;

namespace XenIac.Lab.Tests;

/// <summary>
/// Scenario ssh-host (tests/lab/scenarios/60-ssh-host.sh in dom0, tests/lab/host/ssh-host.sh on this machine): the
/// published xen-iac on the HOST drives dom0's real libxl over <c>--host ssh://root@127.0.0.1:PORT</c>, through QEMU's
/// user-network forward to dom0's sshd, with this run's host key pinned (StrictHostKeyChecking=yes). dom0's steps
/// (sshd, host-hello, host-side) and the host's steps share the scenario's results. Skips when this machine has no
/// ssh client (the steps are "not-available" then).
/// </summary>
[Collection(LabCollection.Name)]
public sealed class SshHostScenarioTests(LabFixture labs)
{
    private const string S = "ssh-host";
    private const string Domain = "tiny-hvm-alt";

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void The_host_logs_in_to_dom0s_sshd_through_the_loopback_forward_with_the_pinned_host_key(string xen)
    {
        var s = labs[xen].Scenario(S);
        s.RequireOk("ssh-login");
        s.RequireOk("sshd");
        s.RequireOk("host-hello");
        // The login ran the dom0 kernel, and the remote PATH of a non-interactive session finds xen-iac.
        Assert.Contains("/usr/local/bin/xen-iac", s.Read("ssh-login.out"));
        // dom0 got the host side's verdict: every host step passed.
        s.RequireOk("host-side");
    }

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Host_info_over_ssh_reports_the_Xen_the_lab_booted(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("host-info");
        using var info = s.ReadJson("host-info.out");
        Assert.StartsWith(lab.Xen + ".", info.RootElement.GetProperty("xenVersion").GetString() + ".");
        Assert.True(info.RootElement.GetProperty("freeMemoryKiB").GetInt64() > 0);
        s.RequireOk("domain-list-before");
        using var before = s.ReadJson("domain-list-before.out");
        Assert.DoesNotContain(Names(before), n => n == Domain);
    }

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Restore_over_ssh_of_a_file_xl_saved_runs_the_domain(string xen)
    {
        var s = labs[xen].Scenario(S);
        s.RequireOk("fetch-savefile");
        // The file went dom0 -> host over ssh byte for byte: the copy dom0 left on the lab disk is the same.
        Assert.Equal(File.ReadAllBytes(labs[xen].OutPath("files", "hvm-plain.xlsave")), s.ReadBytes("files/hvm-plain.xlsave"));
        s.RequireOk("domain-restore");
        s.RequireOk("running-after-restore");
        s.RequireOk("domain-list-after-restore");
        using var list = s.ReadJson("domain-list-after-restore.out");
        var domain = list.RootElement.EnumerateArray().Single(d => d.GetProperty("name").GetString() == Domain);
        Assert.Contains(domain.GetProperty("state").GetString(), new[] { "Running", "Blocked" });
        Assert.Equal(32 * 1024, domain.GetProperty("memoryKiB").GetInt64(), 1024.0);
    }

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void Save_over_ssh_leaves_a_local_savefile_that_verifies_and_no_domain(string xen)
    {
        var lab = labs[xen];
        var s = lab.Scenario(S);
        s.RequireOk("domain-save");
        s.RequireOk("gone-after-save");
        s.RequireOk("domain-list-after-save");
        using (var list = s.ReadJson("domain-list-after-save.out"))
            Assert.DoesNotContain(Names(list), n => n == Domain);
        s.RequireOk("saved.verify-json");
        using (var verify = s.ReadJson("saved.verify-json.out"))
        {
            Assert.True(verify.RootElement.GetProperty("valid").GetBoolean());
            Assert.StartsWith(lab.Xen, verify.RootElement.GetProperty("xenVersion").GetString());
        }
        using (var inspect = s.ReadJson("saved.inspect-json.out"))
            Assert.Equal("json", inspect.RootElement.GetProperty("configFormat").GetString());
        // Read again here by the same binary, from the file the save left (not from the step's output).
        var again = HostXenIac.RunOk(lab, "savefile", "verify", "--json", s.Path("files/ssh-save.xlsave"));
        using var doc = JsonDocument.Parse(again.StdOutBytes);
        Assert.True(doc.RootElement.GetProperty("valid").GetBoolean());
    }

    [SkippableTheory]
    [MemberData(nameof(LabFixture.Generations), MemberType = typeof(LabFixture))]
    public void What_was_saved_over_ssh_restores_over_ssh_and_runs(string xen)
    {
        var s = labs[xen].Scenario(S);
        s.RequireOk("restore-saved");
        s.RequireOk("running-after-restore-saved");
        s.RequireOk("domain-destroy");
        s.RequireOk("gone-after-destroy");
    }

    private static List<string?> Names(JsonDocument list) =>
        list.RootElement.EnumerateArray().Select(d => d.GetProperty("name").GetString()).ToList();
}
