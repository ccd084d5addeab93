@echo off
rem build.cmd <Target> [msbuild args]: runs a target of build\build.proj (Restore, Compile, Test, Pack, Demo, Bench, Lab, Ci).
setlocal
set DOTNET_CLI_TELEMETRY_OPTOUT=1
set DOTNET_NOLOGO=1
set TARGET=%1
if "%TARGET%"=="" set TARGET=Ci
dotnet msbuild "%~dp0build\build.proj" -t:%TARGET% -nologo -tl:off -v:m %2 %3 %4 %5 %6 %7 %8 %9
set RC=%ERRORLEVEL%
if /I "%TARGET%"=="Test" if exist "%~dp0artifacts\test-results\summary.txt" type "%~dp0artifacts\test-results\summary.txt"
if /I "%TARGET%"=="Ci" if exist "%~dp0artifacts\test-results\summary.txt" type "%~dp0artifacts\test-results\summary.txt"
exit /b %RC%
